/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstInteraction: how the engine asks for a secret (the passphrase of CA key
 * files, the PIN of a PKCS#11 token, the password of the central registry's
 * database user). Modelled on GTlsInteraction: the engine
 * calls fst_interaction_ask_passphrase() or fst_interaction_ask_pin() with a
 * description of what is being unlocked and why; subclasses decide where the
 * answer comes from. The base class is the unattended station: the
 * environment, then (for a passphrase) the workspace file ca/passphrase. The
 * CLI adds an option file before these and a terminal prompt after them; the
 * GUI shows a dialog.
 */

#define G_LOG_DOMAIN "FstInteraction"

#include "fst-interaction.h"

#include "fst-error.h"

typedef struct {
	gchar *workspace; /* (owned) (nullable) */
} FstInteractionPrivate;

G_DEFINE_TYPE_WITH_PRIVATE(FstInteraction, fst_interaction, G_TYPE_OBJECT)
#define GET_PRIVATE(o) (fst_interaction_get_instance_private(o))

enum { PROP_0, PROP_WORKSPACE, PROP_LAST };

/* what an asynchronous request carries to its worker thread */
typedef struct {
	gchar *description; /* (owned) */
	FstInteractionFlags flags;
	gboolean pin;
} FstInteractionRequest;

static void
fst_interaction_request_free(FstInteractionRequest *req)
{
	g_free(req->description);
	g_free(req);
}

static FstSecret *
fst_interaction_real_ask_passphrase(FstInteraction *self,
                                    const gchar *description,
                                    FstInteractionFlags flags,
                                    GCancellable *cancellable,
                                    GError **error)
{
	FstInteractionPrivate *priv = GET_PRIVATE(self);
	FstSecret *secret = NULL;
	g_autofree gchar *path = NULL;

	if (flags & FST_INTERACTION_FLAG_FOREIGN) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "no passphrase for %s: it is not the workspace's, so only a "
		            "person can give it",
		            description);
		return NULL;
	}
	secret = fst_secret_new_from_env(FST_INTERACTION_ENV_SECRET, NULL);
	if (secret != NULL)
		return secret;
	if (priv->workspace != NULL) {
		path = g_build_filename(priv->workspace, "ca", "passphrase", NULL);
		if (g_file_test(path, G_FILE_TEST_EXISTS))
			return fst_secret_new_from_file(path, error);
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_CA_UNAVAILABLE,
	            "no passphrase for %s: $%s is not set and %s does not exist",
	            description,
	            FST_INTERACTION_ENV_SECRET,
	            path != NULL ? path : "the workspace has no ca/passphrase");
	return NULL;
}

static FstSecret *
fst_interaction_real_ask_pin(FstInteraction *self,
                             const gchar *description,
                             FstInteractionFlags flags,
                             GCancellable *cancellable,
                             GError **error)
{
	FstSecret *secret = fst_secret_new_from_env(FST_INTERACTION_ENV_SECRET, NULL);
	if (secret != NULL)
		return secret;
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_CA_UNAVAILABLE,
	            "no PIN for %s: set $%s to the PIN, or add "
	            "?pin-source=file:/path/to/pin (a 0600 file) to the key's pkcs11: URI",
	            description,
	            FST_INTERACTION_ENV_SECRET);
	return NULL;
}

static FstSecret *
fst_interaction_real_ask_password(FstInteraction *self,
                                  const gchar *description,
                                  FstInteractionFlags flags,
                                  GCancellable *cancellable,
                                  GError **error)
{
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_PERMISSION_DENIED,
	            "no password for %s: an unattended station asks no one",
	            description);
	return NULL;
}

static void
fst_interaction_ask_thread(GTask *task,
                           gpointer source_object,
                           gpointer task_data,
                           GCancellable *cancellable)
{
	FstInteraction *self = FST_INTERACTION(source_object);
	FstInteractionRequest *req = task_data;
	GError *error = NULL;
	FstSecret *secret =
	    req->pin
	        ? fst_interaction_ask_pin(self, req->description, req->flags, cancellable, &error)
	        : fst_interaction_ask_passphrase(
	              self, req->description, req->flags, cancellable, &error);
	if (secret == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, secret, (GDestroyNotify)fst_secret_free);
}

static void
fst_interaction_ask_async(FstInteraction *self,
                          gboolean pin,
                          const gchar *description,
                          FstInteractionFlags flags,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	FstInteractionRequest *req = g_new0(FstInteractionRequest, 1);

	req->description = g_strdup(description);
	req->flags = flags;
	req->pin = pin;
	g_task_set_task_data(task, req, (GDestroyNotify)fst_interaction_request_free);
	g_task_set_source_tag(task,
	                      pin ? (gpointer)fst_interaction_ask_pin_async
	                          : (gpointer)fst_interaction_ask_passphrase_async);
	g_task_run_in_thread(task, fst_interaction_ask_thread);
}

static void
fst_interaction_real_ask_passphrase_async(FstInteraction *self,
                                          const gchar *description,
                                          FstInteractionFlags flags,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data)
{
	fst_interaction_ask_async(
	    self, FALSE, description, flags, cancellable, callback, user_data);
}

static void
fst_interaction_real_ask_pin_async(FstInteraction *self,
                                   const gchar *description,
                                   FstInteractionFlags flags,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
	fst_interaction_ask_async(self, TRUE, description, flags, cancellable, callback, user_data);
}

static FstSecret *
fst_interaction_real_finish(FstInteraction *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static void
fst_interaction_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	FstInteractionPrivate *priv = GET_PRIVATE(FST_INTERACTION(object));
	switch (prop_id) {
	case PROP_WORKSPACE:
		g_value_set_string(value, priv->workspace);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
fst_interaction_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	FstInteractionPrivate *priv = GET_PRIVATE(FST_INTERACTION(object));
	switch (prop_id) {
	case PROP_WORKSPACE:
		g_free(priv->workspace);
		priv->workspace = g_value_dup_string(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
fst_interaction_finalize(GObject *object)
{
	FstInteractionPrivate *priv = GET_PRIVATE(FST_INTERACTION(object));
	g_free(priv->workspace);
	G_OBJECT_CLASS(fst_interaction_parent_class)->finalize(object);
}

static void
fst_interaction_class_init(FstInteractionClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GParamSpec *pspec;

	object_class->get_property = fst_interaction_get_property;
	object_class->set_property = fst_interaction_set_property;
	object_class->finalize = fst_interaction_finalize;
	klass->ask_passphrase = fst_interaction_real_ask_passphrase;
	klass->ask_password = fst_interaction_real_ask_password;
	klass->ask_pin = fst_interaction_real_ask_pin;
	klass->ask_passphrase_async = fst_interaction_real_ask_passphrase_async;
	klass->ask_passphrase_finish = fst_interaction_real_finish;
	klass->ask_pin_async = fst_interaction_real_ask_pin_async;
	klass->ask_pin_finish = fst_interaction_real_finish;

	/**
	 * FstInteraction:workspace:
	 *
	 * The workspace whose `ca/passphrase` the base class reads, or %NULL.
	 */
	pspec = g_param_spec_string("workspace",
	                            NULL,
	                            NULL,
	                            NULL,
	                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
	                                G_PARAM_STATIC_STRINGS);
	g_object_class_install_property(object_class, PROP_WORKSPACE, pspec);
}

static void
fst_interaction_init(FstInteraction *self)
{
}

/**
 * fst_interaction_new:
 * @workspace: (nullable): the workspace whose `ca/passphrase` may be read
 *
 * The unattended interaction: a passphrase comes from
 * `$FLEETSTATION_CA_PASSPHRASE`, else `WORKSPACE/ca/passphrase`; a PIN from
 * `$FLEETSTATION_CA_PASSPHRASE`. Nobody is asked.
 *
 * Returns: (transfer full): a new #FstInteraction
 */
FstInteraction *
fst_interaction_new(const gchar *workspace)
{
	return g_object_new(FST_TYPE_INTERACTION, "workspace", workspace, NULL);
}

/**
 * fst_interaction_get_workspace:
 * @self: an #FstInteraction
 *
 * Returns: (transfer none) (nullable): the workspace
 */
const gchar *
fst_interaction_get_workspace(FstInteraction *self)
{
	FstInteractionPrivate *priv;
	g_return_val_if_fail(FST_IS_INTERACTION(self), NULL);
	priv = GET_PRIVATE(self);
	return priv->workspace;
}

/* one blocking question through the class's @vfunc_offset (ask_passphrase,
 * ask_pin or ask_password) */
typedef FstSecret *(*FstInteractionAskFunc)(FstInteraction *self,
                                            const gchar *description,
                                            FstInteractionFlags flags,
                                            GCancellable *cancellable,
                                            GError **error);

static FstSecret *
fst_interaction_ask_sync(FstInteraction *self,
                         glong vfunc_offset,
                         const gchar *description,
                         FstInteractionFlags flags,
                         GCancellable *cancellable,
                         GError **error)
{
	FstInteractionAskFunc ask;

	g_return_val_if_fail(FST_IS_INTERACTION(self), NULL);
	g_return_val_if_fail(description != NULL, NULL);
	if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
		fst_error_convert_gio(error);
		return NULL;
	}
	ask = G_STRUCT_MEMBER(FstInteractionAskFunc, FST_INTERACTION_GET_CLASS(self), vfunc_offset);
	return ask(self, description, flags, cancellable, error);
}

/**
 * fst_interaction_ask_passphrase:
 * @self: an #FstInteraction
 * @description: what is unlocked and why, e.g. "the issuing CA key
 *   /ws/ca/issuing-ca.key (to issue device certificates)"
 * @flags: #FST_INTERACTION_FLAG_NEW when the passphrase will encrypt new keys
 * @cancellable: (nullable): stops a prompt or dialog
 * @error: (nullable): return location
 *
 * Asks for the passphrase of CA key files. Blocks; from a main loop use
 * fst_interaction_ask_passphrase_async(). Fails with
 * %FST_ERROR_CA_UNAVAILABLE when there is no answer.
 *
 * Returns: (transfer full): the passphrase, or %NULL with @error set
 */
FstSecret *
fst_interaction_ask_passphrase(FstInteraction *self,
                               const gchar *description,
                               FstInteractionFlags flags,
                               GCancellable *cancellable,
                               GError **error)
{
	return fst_interaction_ask_sync(self,
	                                G_STRUCT_OFFSET(FstInteractionClass, ask_passphrase),
	                                description,
	                                flags,
	                                cancellable,
	                                error);
}

/**
 * fst_interaction_ask_pin:
 * @self: an #FstInteraction
 * @description: which token and key, and why
 * @flags: #FstInteractionFlags
 * @cancellable: (nullable): stops a prompt or dialog
 * @error: (nullable): return location
 *
 * Asks for the PIN of a PKCS#11 token. Fails with %FST_ERROR_CA_UNAVAILABLE
 * when there is no answer.
 *
 * Returns: (transfer full): the PIN, or %NULL with @error set
 */
FstSecret *
fst_interaction_ask_pin(FstInteraction *self,
                        const gchar *description,
                        FstInteractionFlags flags,
                        GCancellable *cancellable,
                        GError **error)
{
	return fst_interaction_ask_sync(self,
	                                G_STRUCT_OFFSET(FstInteractionClass, ask_pin),
	                                description,
	                                flags,
	                                cancellable,
	                                error);
}

/**
 * fst_interaction_ask_passphrase_async:
 * @self: an #FstInteraction
 * @description: what is unlocked and why
 * @flags: #FstInteractionFlags
 * @cancellable: (nullable): stops the request
 * @callback: called on the caller's thread-default main context
 * @user_data: data for @callback
 *
 * Asks for the passphrase without blocking the caller's main loop.
 */
void
fst_interaction_ask_passphrase_async(FstInteraction *self,
                                     const gchar *description,
                                     FstInteractionFlags flags,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
	g_return_if_fail(FST_IS_INTERACTION(self));
	FST_INTERACTION_GET_CLASS(self)->ask_passphrase_async(
	    self, description, flags, cancellable, callback, user_data);
}

/**
 * fst_interaction_ask_passphrase_finish:
 * @self: an #FstInteraction
 * @result: the #GAsyncResult given to the callback
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the passphrase, or %NULL with @error set
 */
FstSecret *
fst_interaction_ask_passphrase_finish(FstInteraction *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(FST_IS_INTERACTION(self), NULL);
	return FST_INTERACTION_GET_CLASS(self)->ask_passphrase_finish(self, result, error);
}

/**
 * fst_interaction_ask_pin_async:
 * @self: an #FstInteraction
 * @description: which token and key, and why
 * @flags: #FstInteractionFlags
 * @cancellable: (nullable): stops the request
 * @callback: called on the caller's thread-default main context
 * @user_data: data for @callback
 *
 * Asks for a PIN without blocking the caller's main loop.
 */
void
fst_interaction_ask_pin_async(FstInteraction *self,
                              const gchar *description,
                              FstInteractionFlags flags,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
	g_return_if_fail(FST_IS_INTERACTION(self));
	FST_INTERACTION_GET_CLASS(self)->ask_pin_async(
	    self, description, flags, cancellable, callback, user_data);
}

/**
 * fst_interaction_ask_pin_finish:
 * @self: an #FstInteraction
 * @result: the #GAsyncResult given to the callback
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the PIN, or %NULL with @error set
 */
FstSecret *
fst_interaction_ask_pin_finish(FstInteraction *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(FST_IS_INTERACTION(self), NULL);
	return FST_INTERACTION_GET_CLASS(self)->ask_pin_finish(self, result, error);
}

/**
 * fst_interaction_ask_password:
 * @self: an #FstInteraction
 * @description: which account on which server, and why
 * @flags: #FstInteractionFlags (%FST_INTERACTION_FLAG_RETRY: the password
 *   given before was refused)
 * @cancellable: (nullable): stops a prompt or dialog
 * @error: (nullable): return location
 *
 * Asks for the password of a server account, the central registry's
 * database user, when the server wants one and the client library found
 * none where it looks. It is never stored: the caller wipes it (an
 * #FstSecret) once used. Fails with %FST_ERROR_PERMISSION_DENIED when there
 * is no answer (an unattended station).
 *
 * Returns: (transfer full): the password, or %NULL with @error set
 */
FstSecret *
fst_interaction_ask_password(FstInteraction *self,
                             const gchar *description,
                             FstInteractionFlags flags,
                             GCancellable *cancellable,
                             GError **error)
{
	return fst_interaction_ask_sync(self,
	                                G_STRUCT_OFFSET(FstInteractionClass, ask_password),
	                                description,
	                                flags,
	                                cancellable,
	                                error);
}
