// Asio's own (non-template) code, compiled once here for every library and program instead of
// inline in each file that includes Asio (BOOST_ASIO_SEPARATE_COMPILATION; decision 81).
#include <boost/asio/impl/src.hpp>
