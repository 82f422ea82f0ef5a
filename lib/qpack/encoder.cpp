// QPACK (RFC 9204): in progress
