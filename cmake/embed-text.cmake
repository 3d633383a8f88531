# cmake -DIN=<file> -DOUT=<file.cpp> -DFUNCTION=<name> -DHEADER=<include> -P embed-text.cmake
# Writes OUT, a C++ file defining `std::string_view forkrun::http::FUNCTION()` that returns the
# text of IN (a JSON file, checked to be JSON first), as a raw string literal.
file(READ "${IN}" text)
string(JSON kind ERROR_VARIABLE json_error TYPE "${text}")
if(json_error)
    message(FATAL_ERROR "${IN} is not valid JSON: ${json_error}")
endif()
set(delimiter "embedded")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${IN} contains )${delimiter}\", which ends the raw string literal")
endif()
file(WRITE "${OUT}"
    "// Generated from ${IN} by cmake/embed-text.cmake at build time: do not edit.\n"
    "#include \"${HEADER}\"\n\n"
    "namespace forkrun::http {\n\n"
    "std::string_view ${FUNCTION}() {\n"
    "    static constexpr std::string_view kText = R\"${delimiter}(${text})${delimiter}\";\n"
    "    return kText;\n"
    "}\n\n"
    "}  // namespace forkrun::http\n")
