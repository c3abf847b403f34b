// The conversation a chat template renders, and the special-token strings it may use.
#pragma once

#include <string>
#include <vector>

namespace loom::chat {

struct Message {
  std::string role;
  std::string content;
};

struct TemplateInputs {
  std::vector<Message> messages;
  bool add_generation_prompt = true;
  std::string bos_token;  // the model's BOS/EOS text, as templates expect them
  std::string eos_token;
};

}  // namespace loom::chat
