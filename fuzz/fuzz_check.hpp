// The fuzz targets' invariant check: on failure, says where and aborts, so
// libFuzzer (or the replay runner) reports the input. Active in every build
// type, unlike assert().
#pragma once

#include <cstdio>
#include <cstdlib>

#define H2W_CHECK(cond)                                                                   \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)
