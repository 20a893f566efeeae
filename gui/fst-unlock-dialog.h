/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gtk/gtk.h>

#include "fst-secret.h"

G_BEGIN_DECLS

#define FST_TYPE_UNLOCK_DIALOG (fst_unlock_dialog_get_type())
G_DECLARE_FINAL_TYPE(FstUnlockDialog, fst_unlock_dialog, FST, UNLOCK_DIALOG, GtkWindow)

FstUnlockDialog *fst_unlock_dialog_new(GtkWindow *parent, const gchar *title, const gchar *prompt);
void fst_unlock_dialog_ask_async(FstUnlockDialog *self,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
FstSecret *
fst_unlock_dialog_ask_finish(FstUnlockDialog *self, GAsyncResult *result, GError **error);
void fst_unlock_dialog_set_error(FstUnlockDialog *self, const gchar *message);
void fst_unlock_dialog_set_question(FstUnlockDialog *self,
                                    const gchar *title,
                                    const gchar *prompt,
                                    gboolean confirm);

G_END_DECLS
