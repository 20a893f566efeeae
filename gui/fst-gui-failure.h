/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-pipeline.h"

G_BEGIN_DECLS

/**
 * FstGuiFailure:
 * @reason: what went wrong, in plain words for the technician at the line
 * @action: what to do about it
 *
 * A device's failure as a lane shows it. Both strings are translated.
 */
typedef struct {
	const gchar *reason;
	const gchar *action;
} FstGuiFailure;

void fst_gui_failure_describe(const GError *error, FstStep step, FstGuiFailure *failure);
const gchar *fst_gui_failure_cause(const GError *error, FstStep step);
gchar *fst_gui_failure_causes_text(GHashTable *causes);

G_END_DECLS
