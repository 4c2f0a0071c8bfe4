#include "engine/report_lines.hpp"

#include <fmt/format.h>

#include <charconv>

namespace decant::engine {
namespace {
constexpr std::string_view kPrefix = "decant-report ";
constexpr size_t kChunkBytes = 8000;
}  // namespace

std::vector<std::string> report_lines(const nlohmann::json& report) {
  std::string text = report.dump(-1, ' ', /*ensure_ascii=*/true);
  size_t count = std::max<size_t>(1, (text.size() + kChunkBytes - 1) / kChunkBytes);
  std::vector<std::string> lines;
  for (size_t i = 0; i < count; ++i)
    lines.push_back(fmt::format("{}{}/{} {}", kPrefix, i + 1, count, std::string_view(text).substr(i * kChunkBytes, kChunkBytes)));
  return lines;
}

bool ReportLines::take(std::string_view line) {
  if (line.substr(0, kPrefix.size()) != kPrefix) return false;
  line.remove_prefix(kPrefix.size());
  size_t index = 0, count = 0;
  auto [slash, e1] = std::from_chars(line.data(), line.data() + line.size(), index);
  if (e1 != std::errc() || slash == line.data() + line.size() || *slash != '/') return true;
  auto [space, e2] = std::from_chars(slash + 1, line.data() + line.size(), count);
  if (e2 != std::errc() || space == line.data() + line.size() || *space != ' ' || index == 0 || index > count) return true;
  std::string_view chunk(space + 1, static_cast<size_t>(line.data() + line.size() - space - 1));
  if (index == 1) {
    text_.clear();
    count_ = count;
    report_.reset();  // a report begun again replaces the one before, whole or not
  } else if (index != next_ || count != count_) {  // a chunk missed, or another report's
    text_.clear();
    next_ = 1;
    return true;
  }
  text_.append(chunk);
  next_ = index + 1;
  if (index == count) {
    auto parsed = nlohmann::json::parse(text_, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) report_ = std::move(parsed);
    text_.clear();
    next_ = 1;
  }
  return true;
}

}  // namespace decant::engine
