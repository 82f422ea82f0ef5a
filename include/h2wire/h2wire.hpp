// Umbrella header: everything public in h2wire.
#pragma once

#include "h2wire/header.hpp"
#include "h2wire/hpack.hpp"
#include "h2wire/frame.hpp"
