/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <libsmartcols.h>

/* libsmartcols names its types by struct tag only */
typedef struct libscols_table libscols_table;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(libscols_table, scols_unref_table)
