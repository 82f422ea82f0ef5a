/// \file
/// Umbrella header: everything public in h2wire.
#pragma once

#include "h2wire/connection.hpp"
#include "h2wire/error.hpp"
#include "h2wire/events.hpp"
#include "h2wire/frame.hpp"
#include "h2wire/h2c.hpp"
#include "h2wire/h3connection.hpp"
#include "h2wire/h3frame.hpp"
#include "h2wire/header.hpp"
#include "h2wire/hpack.hpp"
#include "h2wire/priority.hpp"
#include "h2wire/qpack.hpp"
#include "h2wire/settings.hpp"
#include "h2wire/trace.hpp"
#include "h2wire/version.hpp"

/// \namespace h2wire
/// Everything public: the Connection, its Config and Limits, the events it
/// reports, error codes and settings. Internals live in `detail` namespaces
/// and are not part of the API.
