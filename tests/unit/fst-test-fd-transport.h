/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-transport.h"

G_BEGIN_DECLS

/* test-only: an FstTransport over a file descriptor (a socketpair end) */
#define FST_TYPE_TEST_FD_TRANSPORT (fst_test_fd_transport_get_type())
G_DECLARE_FINAL_TYPE(
    FstTestFdTransport, fst_test_fd_transport, FST, TEST_FD_TRANSPORT, FstTransport)

FstTransport *fst_test_fd_transport_new(int fd, const gchar *name);

G_END_DECLS
