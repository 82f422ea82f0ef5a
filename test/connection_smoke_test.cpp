#include <doctest/doctest.h>

#include "h2wire/connection.hpp"

TEST_CASE("connection smoke: construct") {
    h2wire::Connection c{h2wire::Config{.role = h2wire::Role::client}};
    CHECK(c.wants_write());
}
