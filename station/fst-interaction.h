/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "fst-secret.h"

G_BEGIN_DECLS

#define FST_TYPE_INTERACTION (fst_interaction_get_type())
G_DECLARE_DERIVABLE_TYPE(FstInteraction, fst_interaction, FST, INTERACTION, GObject)

/**
 * FstInteractionFlags:
 * @FST_INTERACTION_FLAG_NONE: no flags
 * @FST_INTERACTION_FLAG_NEW: the secret is new (it will encrypt keys being
 *   made): a person is asked twice
 * @FST_INTERACTION_FLAG_RETRY: the secret given before did not open the key
 * @FST_INTERACTION_FLAG_FOREIGN: the secret is of a file from elsewhere (a
 *   key being imported), not the workspace's: what answers for the workspace
 *   (the environment, `ca/passphrase`, a remembered secret) does not answer it
 *
 * What a request for a secret is about.
 */
typedef enum {
	FST_INTERACTION_FLAG_NONE = 0,
	FST_INTERACTION_FLAG_NEW = 1 << 0,
	FST_INTERACTION_FLAG_RETRY = 1 << 1,
	FST_INTERACTION_FLAG_FOREIGN = 1 << 2,
} FstInteractionFlags;

/**
 * FstInteractionClass:
 * @ask_passphrase: returns the passphrase of CA key files, or %NULL with an error
 * @ask_pin: returns the PIN of a PKCS#11 token, or %NULL with an error
 * @ask_passphrase_async: asks without blocking; the default runs
 *   @ask_passphrase in a worker thread
 * @ask_passphrase_finish: the result of @ask_passphrase_async
 * @ask_pin_async: as @ask_passphrase_async, for a PIN
 * @ask_pin_finish: the result of @ask_pin_async
 * @ask_password: returns the password of a server account (the central
 *   registry's database user), or %NULL with an error; the default has none
 *   to give (an unattended station reads it from where the server's client
 *   library looks, e.g. ~/.pgpass)
 *
 * How the engine asks for a secret, shaped like #GTlsInteraction: the CLI
 * reads an option file or prompts on the terminal, the GUI shows a dialog. The
 * base class gives what an unattended station has: the environment
 * (`$FLEETSTATION_CA_PASSPHRASE`) and, for a passphrase, the workspace file
 * `ca/passphrase`.
 */
struct _FstInteractionClass {
	GObjectClass parent_class;

	FstSecret *(*ask_passphrase)(FstInteraction *self,
	                             const gchar *description,
	                             FstInteractionFlags flags,
	                             GCancellable *cancellable,
	                             GError **error);
	FstSecret *(*ask_pin)(FstInteraction *self,
	                      const gchar *description,
	                      FstInteractionFlags flags,
	                      GCancellable *cancellable,
	                      GError **error);
	void (*ask_passphrase_async)(FstInteraction *self,
	                             const gchar *description,
	                             FstInteractionFlags flags,
	                             GCancellable *cancellable,
	                             GAsyncReadyCallback callback,
	                             gpointer user_data);
	FstSecret *(*ask_passphrase_finish)(FstInteraction *self,
	                                    GAsyncResult *result,
	                                    GError **error);
	void (*ask_pin_async)(FstInteraction *self,
	                      const gchar *description,
	                      FstInteractionFlags flags,
	                      GCancellable *cancellable,
	                      GAsyncReadyCallback callback,
	                      gpointer user_data);
	FstSecret *(*ask_pin_finish)(FstInteraction *self, GAsyncResult *result, GError **error);
	FstSecret *(*ask_password)(FstInteraction *self,
	                           const gchar *description,
	                           FstInteractionFlags flags,
	                           GCancellable *cancellable,
	                           GError **error);

	/*< private >*/
	gpointer padding[7];
};

/* the environment variable an unattended station takes the CA passphrase or PIN from */
#define FST_INTERACTION_ENV_SECRET "FLEETSTATION_CA_PASSPHRASE"

FstInteraction *fst_interaction_new(const gchar *workspace);
const gchar *fst_interaction_get_workspace(FstInteraction *self);
FstSecret *fst_interaction_ask_passphrase(FstInteraction *self,
                                          const gchar *description,
                                          FstInteractionFlags flags,
                                          GCancellable *cancellable,
                                          GError **error);
FstSecret *fst_interaction_ask_pin(FstInteraction *self,
                                   const gchar *description,
                                   FstInteractionFlags flags,
                                   GCancellable *cancellable,
                                   GError **error);
void fst_interaction_ask_passphrase_async(FstInteraction *self,
                                          const gchar *description,
                                          FstInteractionFlags flags,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
FstSecret *
fst_interaction_ask_passphrase_finish(FstInteraction *self, GAsyncResult *result, GError **error);
void fst_interaction_ask_pin_async(FstInteraction *self,
                                   const gchar *description,
                                   FstInteractionFlags flags,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
FstSecret *
fst_interaction_ask_pin_finish(FstInteraction *self, GAsyncResult *result, GError **error);
FstSecret *fst_interaction_ask_password(FstInteraction *self,
                                        const gchar *description,
                                        FstInteractionFlags flags,
                                        GCancellable *cancellable,
                                        GError **error);

G_END_DECLS
