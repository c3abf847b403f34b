// Rendering a conversation with a Jinja chat template: the variables real templates
// read (messages, add_generation_prompt, bos_token, eos_token) bound from TemplateInputs.
#pragma once

#include <string>

#include "chat/chat_message.h"

namespace loom::chat {

// Throws loom::Error naming an unsupported construct or the template's own error.
std::string render_chat_template(const std::string& source, const TemplateInputs& inputs);

}  // namespace loom::chat
