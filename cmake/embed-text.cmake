# cmake -DIN=<file> -DOUT=<file.cpp> -DFUNCTION=<name> -DHEADER=<include> [-DJSON=OFF]
#       -P embed-text.cmake
# Run by CMakeLists.txt when it configures (the inputs are configure dependencies, so editing one
# configures again). Writes OUT, a C++ file defining `std::string_view forkrun::http::FUNCTION()`
# that returns the text of IN as a raw string literal. IN is checked to be JSON first, unless -DJSON=OFF (the
# dashboard's HTML, JavaScript and CSS).
file(READ "${IN}" text)
if(NOT DEFINED JSON OR JSON)
    string(JSON kind ERROR_VARIABLE json_error TYPE "${text}")
    if(json_error)
        message(FATAL_ERROR "${IN} is not valid JSON: ${json_error}")
    endif()
endif()
set(delimiter "embedded")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${IN} contains )${delimiter}\", which ends the raw string literal")
endif()
file(WRITE "${OUT}.new"
    "// Generated from ${IN} by cmake/embed-text.cmake when configuring: do not edit.\n"
    "#include \"${HEADER}\"\n\n"
    "namespace forkrun::http {\n\n"
    "std::string_view ${FUNCTION}() {\n"
    "    static constexpr std::string_view kText = R\"${delimiter}(${text})${delimiter}\";\n"
    "    return kText;\n"
    "}\n\n"
    "}  // namespace forkrun::http\n")
# Only a change touches OUT, so configuring again rebuilds nothing that did not change.
file(COPY_FILE "${OUT}.new" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.new")
