#include "cli/store_command.h"

#include <iostream>

#include "store/open_store.h"
#include "store/store_copy.h"

namespace allot::cli {
namespace {

std::string from_url;
std::string to_url;
CLI::App* copy_command = nullptr;

int Copy() {
  auto from = store::OpenStore(from_url);
  if (!from) {
    std::cerr << "allot: --from: " << from.error().message << "\n";
    return 1;
  }
  auto to = store::OpenStore(to_url);
  if (!to) {
    std::cerr << "allot: --to: " << to.error().message << "\n";
    return 1;
  }
  Result<store::CopyReport> report = store::CopyStore(**from, **to);
  if (!report) {
    std::cerr << "allot: " << report.error().message << "\n";
    return 1;
  }
  std::cout << "copied " << report->objects << " objects of " << report->kinds << " kinds and "
            << report->audit_entries << " audit entries at revision " << report->revision
            << "; read back and compared: identical\n";
  return 0;
}

}  // namespace

void AddStoreCommands(CLI::App& app) {
  CLI::App* store_command = app.add_subcommand("store", "Manage the control plane's store");
  store_command->require_subcommand(1);
  copy_command = store_command->add_subcommand(
      "copy",
      "Copy a whole store into a new, empty one and check the copy (stop the servers first), "
      "as from sqlite:PATH to postgresql://...");
  copy_command->add_option("--from", from_url, "The store to copy: sqlite:PATH or postgresql://")
      ->required();
  copy_command->add_option("--to", to_url, "The new, empty store: postgresql://... or sqlite:PATH")
      ->required();
}

int RunStoreCommand() {
  if (copy_command && *copy_command) return Copy();
  return -1;
}

}  // namespace allot::cli
