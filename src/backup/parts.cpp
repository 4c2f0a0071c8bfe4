#include "backup/parts.hpp"

#include "engine/report.hpp"
#include "engine/run_frame.hpp"

namespace decant::backup {

Tasks combine(Tasks a, Tasks b) {
  for (auto& w : b.work) a.work.push_back(std::move(w));
  auto first = std::move(a.after), second = std::move(b.after);
  a.after = [first, second] {
    if (first) first();
    if (second) second();
  };
  return a;
}

void GroupSpans::mark(const std::string& group) {
  auto now = Clock::now();
  std::lock_guard lock(mutex_);
  auto [it, added] = spans_.try_emplace(group, now, now);
  if (!added) it->second.second = now;
}

void GroupSpans::report_to(engine::Report& report) const {
  std::lock_guard lock(mutex_);
  for (const auto& [group, span] : spans_)
    report.set_group_seconds(group, std::chrono::duration<double>(span.second - span.first).count());
}

void run_tasks(engine::RunFrame& frame, const std::string& phase, const Tasks& tasks, GroupSpans& spans) {
  frame.run_tasks(phase, [&](engine::TaskPool& pool) {
    for (const auto& task : tasks.work)
      pool.submit(1, [&spans, &task](int worker) {
        spans.mark(task.group);
        task.run(worker);
        spans.mark(task.group);
      });
  });
  if (tasks.after) tasks.after();
  spans.report_to(frame.report());
}

RestoreContext restore_context(const Repository& repo, const crypto::AgeKeys& keys, engine::RunFrame& frame,
                               GroupSpans& spans) {
  return {repo, keys, frame.state(), frame.lifecycle(), frame.progress(), frame.report(), spans, frame.jobs()};
}

}  // namespace decant::backup
