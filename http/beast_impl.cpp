// Beast's own (non-template) code, compiled once here instead of inline in each file that
// includes Beast (BOOST_BEAST_SEPARATE_COMPILATION; decision 81).
#include <boost/beast/src.hpp>
