// allot completion bash|zsh: completion scripts generated from the command
// tree, so that every command and option CLI11 knows is completed.
#include <iostream>
#include <sstream>

#include "cli/client_commands.h"

namespace allot::cli {
namespace {

std::string completion_shell;
CLI::App* completion_command = nullptr;

// A command of the tree: its path below `allot` (" sim pack"), its words
// (subcommands and options) and their descriptions.
struct CommandNode {
  std::string path;
  std::vector<std::pair<std::string, std::string>> words;
};

void Collect(const CLI::App& app, const std::string& path, std::vector<CommandNode>& out) {
  CommandNode node{path, {}};
  std::vector<const CLI::App*> children = app.get_subcommands([](const CLI::App*) { return true; });
  for (const CLI::App* child : children)
    node.words.emplace_back(child->get_name(), child->get_description());
  for (const CLI::Option* option :
       app.get_options([](const CLI::Option* o) { return o->nonpositional(); })) {
    for (const auto& name : option->get_lnames())
      node.words.emplace_back("--" + name, option->get_description());
    for (const auto& name : option->get_snames())
      node.words.emplace_back("-" + name, option->get_description());
  }
  out.push_back(node);
  for (const CLI::App* child : children) Collect(*child, path + " " + child->get_name(), out);
}

// Single-quoted for the shell.
std::string Quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string PathPattern(const std::vector<CommandNode>& nodes) {
  std::string pattern;
  for (const auto& node : nodes) {
    if (node.path.empty()) continue;
    pattern += (pattern.empty() ? "" : "|") + Quoted(node.path);
  }
  return pattern;
}

void Bash(const std::vector<CommandNode>& nodes, std::ostream& out) {
  out << "# bash completion for allot: source <(allot completion bash)\n"
         "_allot() {\n"
         "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" i w words=\"\"\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    w=\"${COMP_WORDS[i]}\"\n"
         "    [[ \"$w\" == -* ]] && continue\n"
         "    case \"$path $w\" in\n"
         "      "
      << PathPattern(nodes)
      << ") path=\"$path $w\" ;;\n"
         "    esac\n"
         "  done\n"
         "  case \"$path\" in\n";
  for (const auto& node : nodes) {
    std::string words;
    for (const auto& word : node.words) words += (words.empty() ? "" : " ") + word.first;
    out << "    " << Quoted(node.path) << ") words=" << Quoted(words) << " ;;\n";
  }
  out << "  esac\n"
         "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
         "}\n"
         "complete -o default -F _allot allot\n";
}

void Zsh(const std::vector<CommandNode>& nodes, std::ostream& out) {
  out << "#compdef allot\n"
         "# zsh completion for allot: source <(allot completion zsh), or save as _allot\n"
         "# in a directory of $fpath.\n"
         "_allot() {\n"
         "  local path_so_far=\"\" w\n"
         "  local -a candidates\n"
         "  for w in \"${(@)words[2,CURRENT-1]}\"; do\n"
         "    [[ \"$w\" == -* ]] && continue\n"
         "    case \"$path_so_far $w\" in\n"
         "      ("
      << PathPattern(nodes)
      << ") path_so_far=\"$path_so_far $w\" ;;\n"
         "    esac\n"
         "  done\n"
         "  case \"$path_so_far\" in\n";
  for (const auto& node : nodes) {
    out << "    (" << Quoted(node.path) << ") candidates=(";
    for (const auto& [word, description] : node.words) {
      std::string escaped;
      for (char c : word) escaped += c == ':' ? std::string("\\:") : std::string(1, c);
      out << " " << Quoted(escaped + ":" + description);
    }
    out << ") ;;\n";
  }
  out << "  esac\n"
         "  _describe 'allot' candidates || _files\n"
         "}\n"
         "if [[ \"${funcstack[1]}\" == _allot ]]; then _allot \"$@\"; else compdef _allot allot; "
         "fi\n";
}

}  // namespace

void AddCompletionCommand(CLI::App& app) {
  completion_command = app.add_subcommand(
      "completion", "Print a shell completion script: source <(allot completion bash)");
  completion_command->add_option("shell", completion_shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
}

int RunCompletionCommand(const CLI::App& app) {
  if (!completion_command || !*completion_command) return -1;
  std::vector<CommandNode> nodes;
  Collect(app, "", nodes);
  if (completion_shell == "bash") {
    Bash(nodes, std::cout);
  } else {
    Zsh(nodes, std::cout);
  }
  return 0;
}

}  // namespace allot::cli
