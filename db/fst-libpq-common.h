/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* cleanup functions for the libpq types the central registry uses, in one place */

#include <glib.h>
#include <libpq-fe.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PGresult, PQclear)
