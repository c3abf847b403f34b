#include "chat/chat_template.h"

#include "chat/jinja.h"

namespace loom::chat {

std::string render_chat_template(const std::string& source, const TemplateInputs& inputs) {
  Array messages;
  for (const Message& m : inputs.messages) {
    messages.push_back(
        Value::dict({{"role", Value::string(m.role)}, {"content", Value::string(m.content)}}));
  }
  const Value context =
      Value::dict({{"messages", Value::list(std::move(messages))},
                   {"add_generation_prompt", Value::boolean(inputs.add_generation_prompt)},
                   {"bos_token", Value::string(inputs.bos_token)},
                   {"eos_token", Value::string(inputs.eos_token)}});
  return render_jinja(source, context);
}

}  // namespace loom::chat
