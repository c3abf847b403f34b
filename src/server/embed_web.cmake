# Turns the chat page's files (web/*) into a C++ source with one byte array per file, so
# the page ships inside the binary and works offline. Run by add_custom_command:
#   cmake -DOUTPUT=web_assets.cpp -DINPUTS="a;b" -P embed_web.cmake
# The generated file defines loom::server::web_assets() (see web_assets.h).
if(NOT OUTPUT OR NOT INPUTS)
  message(FATAL_ERROR "embed_web.cmake needs -DOUTPUT=file.cpp -DINPUTS=file;file")
endif()

# CMake's regular expressions have no {n}: spell out one line's worth of bytes.
string(REPEAT "0x[0-9a-f][0-9a-f]," 24 kLine)
set(arrays "")
set(table "")
set(index 0)
foreach(input IN LISTS INPUTS)
  get_filename_component(name "${input}" NAME)
  file(READ "${input}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # "3c21" -> "0x3c,0x21," with a line break every 24 bytes to keep lines short.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(${kLine})" "\\1\n    " bytes "${bytes}")
  # A trailing 0 keeps an empty file a valid array; `size` excludes it.
  string(APPEND arrays "// ${name}\nconst unsigned char kAsset${index}[] = {\n    ${bytes}0};\n\n")
  string(APPEND table "      {\"${name}\", kAsset${index}, ${size}},\n")
  math(EXPR index "${index} + 1")
endforeach()

set(content "// Generated from web/ by src/server/embed_web.cmake at build time; do not edit.
#include \"server/web_assets.h\"

namespace loom::server {
namespace {

${arrays}}  // namespace

std::span<const WebAsset> web_assets() {
  static const WebAsset kAssets[] = {
${table}  };
  return kAssets;
}

}  // namespace loom::server
")
# Rewrite only on change, so an unchanged page does not recompile the server.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
