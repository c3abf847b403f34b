// `loom tokenize`: the token ids (and pieces) a model's tokenizer gives a text, from a
// GGUF model, a vocab-only GGUF or a tokenizer.json. Only the tokenizer is loaded.
#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "loom/error.h"
#include "loom/vocab.h"

namespace loom::cli {
namespace {

struct TokenizeArgs {
  std::string model_path;
  std::string prompt;
  std::string prompt_file;
  bool ids_only = false;
  bool pieces_only = false;
  bool no_special = false;
  bool parse_special = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open text file '{}': {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Length of the well-formed UTF-8 sequence at the start of `s`, 0 when there is none.
size_t utf8_sequence(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t n = 0;
  uint32_t min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  uint32_t cp = lead & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// The piece with control characters, backslashes and bytes that are not (complete)
// UTF-8 written as escapes, so every token shows on one line and nothing is invisible.
std::string escape(std::string_view piece) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    const unsigned char c = static_cast<unsigned char>(piece[i]);
    if (c >= 0x80) {
      if (const size_t n = utf8_sequence(piece.substr(i)); n > 0) {
        out.append(piece.substr(i, n));
        i += n;
      } else {
        out += fmt::format("\\x{:02X}", c);
        ++i;
      }
      continue;
    }
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\x{:02X}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

int tokenize(const TokenizeArgs& a, bool has_prompt, bool has_file) {
  if (has_prompt == has_file) throw Error("give the text with exactly one of -p TEXT or -f FILE");
  const std::string text = has_file ? read_file(a.prompt_file) : a.prompt;
  const std::shared_ptr<Vocab> vocab = Vocab::load(a.model_path);
  const bool add_special = !a.no_special;
  const bool parse_special = a.parse_special && !a.no_special;
  const std::vector<int32_t> ids = vocab->encode(text, add_special, parse_special);

  if (a.ids_only) {
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
    fmt::print("{}\n", line);
  } else if (a.pieces_only) {
    for (const int32_t id : ids) fmt::print("{}\t{}\n", id, escape(vocab->token_piece(id)));
  } else {
    for (const int32_t id : ids) fmt::print("{:>7} -> '{}'\n", id, escape(vocab->token_piece(id)));
    fmt::print("{} tokens\n", ids.size());
  }
  return 0;
}

}  // namespace

Command add_tokenize(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Show the token ids and pieces a model's tokenizer gives a text");
  cmd->add_option("-m,--model", args->model_path,
                  "GGUF model, vocab-only GGUF or Hugging Face tokenizer.json")
      ->required();
  CLI::Option* prompt = cmd->add_option("-p,--prompt", args->prompt, "Text to tokenize");
  CLI::Option* file = cmd->add_option("-f,--file", args->prompt_file,
                                      "Tokenize a file's bytes exactly as they are");
  prompt->excludes(file);
  CLI::Option* ids = cmd->add_flag("--ids", args->ids_only, "Print only the ids, on one line");
  CLI::Option* pieces = cmd->add_flag("--pieces", args->pieces_only,
                                      "Print one 'id<TAB>piece' line per token (escaped)");
  ids->excludes(pieces);
  CLI::Option* no_special = cmd->add_flag("--no-special", args->no_special,
                                          "Add no BOS/EOS and parse no special tokens in the text");
  CLI::Option* parse_special =
      cmd->add_flag("--parse-special", args->parse_special,
                    "Recognise special-token text such as <|im_start|> in the text");
  no_special->excludes(parse_special);
  return [args, prompt, file] { return tokenize(*args, prompt->count() > 0, file->count() > 0); };
}

}  // namespace loom::cli
