#include "mongo/privileges.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/error.hpp"
#include "mongo/target_journal.hpp"

namespace decant::mongo {

namespace {

std::vector<std::string> strings_of(bson_iter_t* array) {
  std::vector<std::string> out;
  bson_iter_t item;
  if (!BSON_ITER_HOLDS_ARRAY(array) || !bson_iter_recurse(array, &item)) return out;
  while (bson_iter_next(&item))
    if (BSON_ITER_HOLDS_UTF8(&item)) out.emplace_back(bson_iter_utf8(&item, nullptr));
  return out;
}

Privilege privilege_of(const bson_t* entry) {
  Privilege p;
  bson_iter_t it;
  if (bson_iter_init(&it, entry) && bson_iter_find_descendant(&it, "resource.anyResource", &it))
    p.any_resource = bson_iter_as_bool(&it);
  // A namespace pattern names both; other resources (system_buckets, ...) grant nothing here.
  bool db = bson_iter_init(&it, entry) && bson_iter_find_descendant(&it, "resource.db", &it);
  bool collection = bson_iter_init(&it, entry) && bson_iter_find_descendant(&it, "resource.collection", &it);
  p.namespaces = db && collection;
  p.db = utf8_field(entry, "resource.db");
  p.collection = utf8_field(entry, "resource.collection");
  if (bson_iter_init_find(&it, entry, "actions")) p.actions = strings_of(&it);
  return p;
}

// MongoDB's resource rules: "" matches every database (or collection), but a collection
// wildcard never covers system collections, and a database-level action (collection "")
// needs a resource that names no collection.
bool covers(const Privilege& p, const Need& need) {
  if (p.any_resource) return true;
  if (!p.namespaces) return false;
  if (!p.db.empty() && p.db != need.db) return false;
  if (need.collection.empty()) return p.collection.empty();
  if (p.collection.empty()) return need.collection.rfind("system.", 0) != 0;
  return p.collection == need.collection;
}

// anyAction: every action (__system holds it; root lists its actions).
bool grants(const Privilege& p, const Need& need, const std::string& action) {
  auto has = [&](const char* a) { return std::find(p.actions.begin(), p.actions.end(), a) != p.actions.end(); };
  return covers(p, need) && (has(action.c_str()) || has("anyAction"));
}

}  // namespace

std::optional<std::vector<Privilege>> privileges_from_reply(const bson_t* reply) {
  bson_iter_t it, users, entry;
  if (!bson_iter_init(&it, reply) || !bson_iter_find_descendant(&it, "authInfo.authenticatedUsers", &users) ||
      !BSON_ITER_HOLDS_ARRAY(&users) || !bson_iter_recurse(&users, &entry) || !bson_iter_next(&entry))
    return std::nullopt;  // nobody logged in: access control is off, or nothing to go by
  if (!bson_iter_init(&it, reply) || !bson_iter_find_descendant(&it, "authInfo.authenticatedUserPrivileges", &it) ||
      !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &entry))
    return std::nullopt;  // a server that keeps no privileges (FerretDB)
  std::vector<Privilege> out;
  bool any = false;
  while (bson_iter_next(&entry)) {
    any = true;
    if (!BSON_ITER_HOLDS_DOCUMENT(&entry)) continue;
    uint32_t size = 0;
    const uint8_t* data = nullptr;
    bson_iter_document(&entry, &size, &data);
    bson_t doc;
    if (bson_init_static(&doc, data, size)) out.push_back(privilege_of(&doc));
  }
  // A login with no privilege at all is what servers that keep none answer (some FerretDB
  // and DocumentDB versions): a MongoDB login always has some.
  if (!any) return std::nullopt;
  return out;
}

std::vector<std::string> ungranted(const std::vector<Privilege>& privileges, const std::vector<Need>& needs) {
  std::vector<std::string> out;
  for (const auto& need : needs)
    for (const auto& action : need.actions) {
      bool granted = std::any_of(privileges.begin(), privileges.end(),
                                 [&](const Privilege& p) { return grants(p, need, action); });
      std::string missing = fmt::format("{} on {}{}", action, need.db,
                                        need.collection.empty() ? "" : "." + need.collection);
      if (!granted && std::find(out.begin(), out.end(), missing) == out.end()) out.push_back(std::move(missing));
    }
  return out;
}

CopyTarget copy_target(const std::vector<const CollectionInfo*>& collections, bool journal_on_target) {
  CopyTarget out;
  auto role = [&](const char* name, const std::string& db) {
    std::string r = fmt::format(R"({{role: "{}", db: "{}"}})", name, db);
    if (std::find(out.roles.begin(), out.roles.end(), r) == out.roles.end()) out.roles.push_back(std::move(r));
  };
  std::set<std::string> databases;
  for (const auto* item : collections) {
    const CollectionInfo& c = *item;
    // The target's catalog is read whole: every collection's indexes.
    if (databases.insert(c.db).second) out.needs.push_back({c.db, "", {"listCollections", "listIndexes"}});
    role("readWrite", c.db);
    Need need{c.db, c.name, {"createCollection", "dropCollection"}};
    if (!c.is_view) {
      need.actions.insert(need.actions.end(), {"insert", "find", "listIndexes"});
      if (!c.indexes.empty()) need.actions.push_back("createIndex");
      if (c.capped()) need.actions.push_back("convertToCapped");
      // Documents are inserted past the validator, as the source holds them: dbAdmin grants it.
      if (c.has_validator()) {
        need.actions.push_back("bypassDocumentValidation");
        role("dbAdmin", c.db);
      }
    }
    out.needs.push_back(std::move(need));
    // A view is made only by a login that may read what it reads (MongoDB authorizes its
    // pipeline as an aggregate on viewOn, which is in the view's database).
    if (c.is_view) {
      std::string view_on = utf8_field(c.options.get(), "viewOn");
      if (!view_on.empty()) out.needs.push_back({c.db, view_on, {"find"}});
    }
  }
  if (journal_on_target) {
    out.needs.push_back({kStateDatabase, "journal", {"find", "insert", "dropCollection"}});
    out.needs.push_back({kStateDatabase, "lease", {"find", "insert", "update", "remove", "dropCollection"}});
    role("readWrite", kStateDatabase);
  }
  return out;
}

std::string require_privileges(mongoc_client_t* client, const CopyTarget& target, const std::string& where) {
  Bson reply;
  try {
    reply = run_command(client, "admin", Bson::from_json(R"({"connectionStatus": 1, "showPrivileges": true})"), where);
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted || e.code() == ExitCode::unreachable || e.code() == ExitCode::tls) throw;
    // A server that does not have the command (some MongoDB-compatible services): the
    // copy's own statements will say what the login may not do.
    return std::string("not checked: the server refused connectionStatus: ") + e.what();
  }
  auto privileges = privileges_from_reply(reply.get());
  if (!privileges) return "not checked: the server reports none (no access control, or none kept, as FerretDB)";
  auto missing = ungranted(*privileges, target.needs);
  if (missing.empty()) return "granted";
  std::string user = utf8_field(reply.get(), "authInfo.authenticatedUsers.0.user");
  std::string auth_db = utf8_field(reply.get(), "authInfo.authenticatedUsers.0.db");
  const size_t shown = std::min<size_t>(6, missing.size());
  throw Error(ExitCode::privileges,
              fmt::format("the login {} on {} may not {}{}: nothing was written", user, where,
                          fmt::join(missing.begin(), missing.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
                          missing.size() > shown ? fmt::format(" (and {} more)", missing.size() - shown) : ""),
              fmt::format("grant them (in mongosh, on its database {}: db.grantRolesToUser(\"{}\", [{}])), or "
                          "give a login that has them",
                          auth_db, user, fmt::join(target.roles, ", ")));
}

}  // namespace decant::mongo
