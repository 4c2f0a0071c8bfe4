#pragma once
// What a MongoDB login may do, as the server reports it (connectionStatus with
// showPrivileges), checked before a copy writes anything: a login short of one action
// otherwise fails at that action, mid-copy, after migrate's downtime began.
#include <optional>
#include <string>
#include <vector>

#include "mongo/catalog.hpp"
#include "mongo/client.hpp"

namespace decant::mongo {

// One entry of authenticatedUserPrivileges: actions on a resource. An empty db or
// collection stands for every one (MongoDB's resource documents).
struct Privilege {
  bool any_resource = false;
  bool namespaces = false;  // a {db, collection} pattern
  std::string db, collection;
  std::vector<std::string> actions;
};

// The actions a step needs on a namespace; an empty collection: on the database itself
// (listCollections).
struct Need {
  std::string db, collection;
  std::vector<std::string> actions;
};

// From a connectionStatus reply; nullopt when it gives nothing to check against: no login
// (access control off), or no privilege at all (FerretDB and DocumentDB keep none, or say so).
std::optional<std::vector<Privilege>> privileges_from_reply(const bson_t* reply);

// The needs the privileges do not grant, each as "ACTION on DB[.COLLECTION]", in order.
std::vector<std::string> ungranted(const std::vector<Privilege>& privileges, const std::vector<Need>& needs);

// What a copy's (or a restore's) target login needs: on each collection it writes, and with
// its journal on the target, on decant_state's; the roles that grant it, for the hint.
struct CopyTarget {
  std::vector<Need> needs;
  std::vector<std::string> roles;  // "{role: \"readWrite\", db: \"circle_ghe\"}", as mongosh takes them
};
CopyTarget copy_target(const std::vector<const CollectionInfo*>& collections, bool journal_on_target);

// Asks the server and throws Error(privileges) naming what the login lacks; returns how the
// check went, for plan's line ("granted" or why it could not be checked).
std::string require_privileges(mongoc_client_t* client, const CopyTarget& target, const std::string& where);

}  // namespace decant::mongo
