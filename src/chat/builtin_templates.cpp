#include "chat/builtin_templates.h"

#include <map>

namespace loom::chat {
namespace {

// The formats as their families' own templates write them (system messages merged into
// the first user turn where the family has no system role).
const std::map<std::string, std::string>& sources() {
  static const std::map<std::string, std::string> kSources = {
      {"chatml",
       "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
       "message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
       "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"},
      {"llama-2",
       "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
       "{% set system_message = messages[0]['content'] %}{% else %}"
       "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
       "{% for message in loop_messages %}"
       "{% if loop.index0 == 0 and system_message != false %}"
       "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] "
       "%}"
       "{% else %}{% set content = message['content'] %}{% endif %}"
       "{% if message['role'] == 'user' %}{{ '<s>' + '[INST] ' + content.strip() + ' [/INST]' }}"
       "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + '</s>' }}"
       "{% endif %}{% endfor %}"},
      {"llama-3",
       "{{ '<|begin_of_text|>' }}{% for message in messages %}"
       "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + "
       "message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
       "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
       "{% endif %}"},
      {"mistral",
       "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}"
       "{% set loop_messages = messages[1:] %}{% else %}{% set system_message = '' %}"
       "{% set loop_messages = messages %}{% endif %}{{ '<s>' }}"
       "{% for message in loop_messages %}{% if message['role'] == 'user' %}"
       "{% if loop.first and system_message != '' %}"
       "{{ '[INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}"
       "{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}"
       "{% elif message['role'] == 'assistant' %}{{ message['content'] + '</s>' }}{% endif %}"
       "{% endfor %}"},
      {"gemma",
       "{{ '<bos>' }}{% if messages[0]['role'] == 'system' %}"
       "{% set first_user_prefix = messages[0]['content'] + '\n\n' %}"
       "{% set loop_messages = messages[1:] %}{% else %}{% set first_user_prefix = '' %}"
       "{% set loop_messages = messages %}{% endif %}"
       "{% for message in loop_messages %}"
       "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
       "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + "
       "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
       "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"},
      {"phi-3",
       "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + "
       "'<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}"
       "{% endif %}"},
      {"zephyr",
       "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + "
       "'</s>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"},
  };
  return kSources;
}

}  // namespace

const std::vector<std::string>& builtin_template_names() {
  static const std::vector<std::string> kNames = {"chatml", "llama-2", "llama-3", "mistral",
                                                  "gemma",  "phi-3",   "zephyr"};
  return kNames;
}

std::optional<std::string> builtin_template_source(const std::string& name) {
  auto it = sources().find(name);
  if (it == sources().end()) return std::nullopt;
  return it->second;
}

}  // namespace loom::chat
