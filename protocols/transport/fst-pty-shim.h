/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void _fst_pty_shim_enter(void);
void _fst_pty_shim_leave(void);

G_END_DECLS
