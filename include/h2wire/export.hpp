/// \file
/// Symbol visibility of the shared library. The library is built with
/// -fvisibility=hidden; H2WIRE_API marks what it exports, which is the
/// public API and nothing else (test/abi checks the list).
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define H2WIRE_API __attribute__((visibility("default")))
#else
#define H2WIRE_API
#endif
