/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstGuiInteraction: the engine's FstInteraction shown as the FstUnlockDialog.
 * The engine asks for the CA passphrase or token PIN from whatever thread it
 * runs in (the GTask that opens the station, a job, a report export); as
 * with GTlsInteraction, a synchronous question asked from another thread is
 * handed to the GUI main context and that thread waits for the answer, and
 * one asked on the GUI thread itself runs the main context until the dialog
 * answered. Nothing is read from the environment or from ca/passphrase: the
 * person at the station types the secret.
 *
 * The engine only ever asks once per operation; when the secret did not open
 * the key, the caller tells the interaction with
 * fst_gui_interaction_set_retry() and runs the operation again, and the next
 * question keeps the same dialog up and shows why it asks again (as the
 * %FST_INTERACTION_FLAG_RETRY flag does). fst_gui_interaction_close() puts
 * the dialog away once the caller is done.
 *
 * A secret the caller has checked may be kept for the session with
 * fst_gui_interaction_set_session_secret(): later questions without
 * %FST_INTERACTION_FLAG_RETRY are answered with it and show no dialog.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-gui-interaction.h"

#include <glib/gi18n.h>

#include "fst-error.h"
#include "fst-unlock-dialog.h"

struct _FstGuiInteraction {
	FstInteraction parent_instance;
	GWeakRef parent;         /* GtkWindow */
	GMainContext *context;   /* (owned): the GUI thread's */
	FstUnlockDialog *dialog; /* (owned) (nullable): GUI thread only */
	gchar *retry;            /* (owned) (nullable): GUI thread only */
	GMutex lock;
	FstSecret *session; /* (owned) (nullable): the answer for the session, under lock */
};

G_DEFINE_TYPE(FstGuiInteraction, fst_gui_interaction, FST_TYPE_INTERACTION)

/* what is asked for */
typedef enum {
	FST_GUI_SECRET_PASSPHRASE, /* of the CA's key files */
	FST_GUI_SECRET_PIN,        /* of the CA's token */
	FST_GUI_SECRET_PASSWORD,   /* of a server account: the central registry's */
} FstGuiSecretKind;

/* one question, from its asker to the dialog and back */
typedef struct {
	gchar *description; /* (owned) */
	FstInteractionFlags flags;
	FstGuiSecretKind kind;
} FstGuiQuestion;

static void
fst_gui_interaction_answered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	g_autoptr(GError) error = NULL;
	FstSecret *secret = fst_unlock_dialog_ask_finish(FST_UNLOCK_DIALOG(source), result, &error);
	FstGuiInteraction *self = g_task_get_source_object(task);

	if (secret == NULL) {
		/* cancelled or closed: the dialog is gone from the screen */
		if (self->dialog == FST_UNLOCK_DIALOG(source)) {
			g_autoptr(FstUnlockDialog) dialog = g_steal_pointer(&self->dialog);
			gtk_window_destroy(GTK_WINDOW(dialog));
		}
		g_clear_pointer(&self->retry, g_free);
		fst_error_convert_gio(&error);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, secret, (GDestroyNotify)fst_secret_free);
}

/* a password's own dialog goes as soon as it is answered: the server, not
 * the window, tells whether it was right, and asks again if not */
static void
fst_gui_interaction_password_answered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstUnlockDialog) dialog = FST_UNLOCK_DIALOG(source);
	FstSecret *secret = fst_unlock_dialog_ask_finish(dialog, result, &error);

	gtk_window_destroy(GTK_WINDOW(dialog));
	if (secret == NULL) {
		fst_error_convert_gio(&error);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, secret, (GDestroyNotify)fst_secret_free);
}

/* the password of a server account, in a dialog of its own: a CA question
 * may be waiting in the other */
static void
fst_gui_interaction_ask_password_async(FstGuiInteraction *self,
                                       const gchar *description,
                                       FstInteractionFlags flags,
                                       GTask *task)
{
	g_autoptr(GtkWindow) parent = g_weak_ref_get(&self->parent);
	const gchar *title = _("Sign in to the central registry");
	g_autofree gchar *prompt =
	    g_strdup_printf(_("Type the password of %s. It is kept in memory only while the "
	                      "station is open, never written to disk."),
	                    description);
	FstUnlockDialog *dialog = g_object_ref_sink(fst_unlock_dialog_new(parent, title, prompt));

	fst_unlock_dialog_set_question(dialog, title, prompt, FALSE);
	if (flags & FST_INTERACTION_FLAG_RETRY) {
		fst_unlock_dialog_set_error(
		    dialog, _("The server refused that password: check it and type it again"));
	}
	fst_unlock_dialog_ask_async(
	    dialog, g_task_get_cancellable(task), fst_gui_interaction_password_answered_cb, task);
}

/* a copy of the session's secret, or %NULL when the person must be asked */
static FstSecret *
fst_gui_interaction_session_answer(FstGuiInteraction *self, FstInteractionFlags flags)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	const guint8 *data;
	gsize len = 0;

	/* a new secret is always the person's choice, a foreign one theirs to give */
	if (self->session == NULL ||
	    (flags & (FST_INTERACTION_FLAG_RETRY | FST_INTERACTION_FLAG_NEW |
	              FST_INTERACTION_FLAG_FOREIGN)))
		return NULL;
	data = fst_secret_get_data(self->session, &len);
	return fst_secret_new(data, len);
}

static void
fst_gui_interaction_ask_async(FstGuiInteraction *self,
                              FstGuiSecretKind kind,
                              const gchar *description,
                              FstInteractionFlags flags,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(GtkWindow) parent = g_weak_ref_get(&self->parent);
	g_autofree gchar *prompt = NULL;
	const gchar *title = _("Unlock the CA");
	gboolean pin = kind == FST_GUI_SECRET_PIN;
	FstSecret *secret = NULL;

	g_task_set_source_tag(task, fst_gui_interaction_ask_async);
	if (kind == FST_GUI_SECRET_PASSWORD) {
		fst_gui_interaction_ask_password_async(
		    self, description, flags, g_steal_pointer(&task));
		return;
	}
	secret = fst_gui_interaction_session_answer(self, flags);
	if (secret != NULL) {
		g_task_return_pointer(task, secret, (GDestroyNotify)fst_secret_free);
		return;
	}
	if (pin) {
		prompt = g_strdup_printf(_("Type the PIN of %s. It is kept in memory only while "
		                           "the station is open."),
		                         description);
	} else if (flags & FST_INTERACTION_FLAG_NEW) {
		title = _("Choose the CA passphrase");
		prompt = g_strdup_printf(_("Choose the passphrase that encrypts %s, and type it "
		                           "twice. Whoever unlocks the CA will need it."),
		                         description);
	} else {
		prompt =
		    g_strdup_printf(_("Type the passphrase of %s. It is kept in memory only while "
		                      "the station is open."),
		                    description);
	}
	if (self->dialog == NULL)
		self->dialog = g_object_ref_sink(fst_unlock_dialog_new(parent, title, prompt));
	/* one dialog may ask several questions in a row (an imported key's
	 * passphrase, then the new one) */
	fst_unlock_dialog_set_question(
	    self->dialog, title, prompt, (flags & FST_INTERACTION_FLAG_NEW) && !pin);
	if (self->retry != NULL) {
		g_autofree gchar *retry = g_steal_pointer(&self->retry);
		fst_unlock_dialog_set_error(self->dialog, retry);
	} else if (flags & FST_INTERACTION_FLAG_RETRY) {
		fst_unlock_dialog_set_error(
		    self->dialog, _("That did not unlock the key: check it and type it again"));
	}
	fst_unlock_dialog_ask_async(
	    self->dialog, cancellable, fst_gui_interaction_answered_cb, g_steal_pointer(&task));
}

static void
fst_gui_interaction_ask_passphrase_async(FstInteraction *interaction,
                                         const gchar *description,
                                         FstInteractionFlags flags,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
	fst_gui_interaction_ask_async(FST_GUI_INTERACTION(interaction),
	                              FST_GUI_SECRET_PASSPHRASE,
	                              description,
	                              flags,
	                              cancellable,
	                              callback,
	                              user_data);
}

static void
fst_gui_interaction_ask_pin_async(FstInteraction *interaction,
                                  const gchar *description,
                                  FstInteractionFlags flags,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
	fst_gui_interaction_ask_async(FST_GUI_INTERACTION(interaction),
	                              FST_GUI_SECRET_PIN,
	                              description,
	                              flags,
	                              cancellable,
	                              callback,
	                              user_data);
}

static FstSecret *
fst_gui_interaction_ask_finish(FstInteraction *interaction, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, interaction), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* a synchronous question: asked on the GUI main context, waited for here */
typedef struct {
	gint refcount;
	GMutex lock;
	GCond cond;
	gboolean done;
	FstGuiInteraction *self; /* (owned) */
	FstGuiQuestion question;
	GCancellable *cancellable; /* (owned) (nullable) */
	FstSecret *secret;         /* (owned) (nullable) */
	GError *error;             /* (owned) (nullable) */
} FstGuiSyncCall;

static void
fst_gui_sync_call_unref(FstGuiSyncCall *call)
{
	if (!g_atomic_int_dec_and_test(&call->refcount))
		return;
	g_object_unref(call->self);
	g_free(call->question.description);
	g_clear_object(&call->cancellable);
	g_clear_pointer(&call->secret, fst_secret_free);
	g_clear_error(&call->error);
	g_mutex_clear(&call->lock);
	g_cond_clear(&call->cond);
	g_free(call);
}

static void
fst_gui_sync_call_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FstGuiSyncCall *call = user_data;
	GError *error = NULL;
	FstSecret *secret = fst_gui_interaction_ask_finish(FST_INTERACTION(source), result, &error);

	g_mutex_lock(&call->lock);
	call->secret = secret;
	call->error = error;
	call->done = TRUE;
	g_cond_signal(&call->cond);
	g_mutex_unlock(&call->lock);
	fst_gui_sync_call_unref(call);
}

static gboolean
fst_gui_sync_call_start_cb(gpointer user_data)
{
	FstGuiSyncCall *call = user_data;
	g_atomic_int_inc(&call->refcount);
	fst_gui_interaction_ask_async(call->self,
	                              call->question.kind,
	                              call->question.description,
	                              call->question.flags,
	                              call->cancellable,
	                              fst_gui_sync_call_done_cb,
	                              call);
	return G_SOURCE_REMOVE;
}

static FstSecret *
fst_gui_interaction_ask_sync(FstGuiInteraction *self,
                             FstGuiSecretKind kind,
                             const gchar *description,
                             FstInteractionFlags flags,
                             GCancellable *cancellable,
                             GError **error)
{
	FstGuiSyncCall *call;
	/* the session knows the CA's secret, never a server's password */
	FstSecret *secret = kind == FST_GUI_SECRET_PASSWORD
	                        ? NULL
	                        : fst_gui_interaction_session_answer(self, flags);

	if (secret != NULL)
		return secret;
	call = g_new0(FstGuiSyncCall, 1);
	call->refcount = 1;
	g_mutex_init(&call->lock);
	g_cond_init(&call->cond);
	call->self = g_object_ref(self);
	call->question.description = g_strdup(description);
	call->question.flags = flags;
	call->question.kind = kind;
	if (cancellable != NULL)
		call->cancellable = g_object_ref(cancellable);

	if (g_main_context_acquire(self->context)) {
		/* on the GUI thread (or no loop runs it): run it until answered */
		fst_gui_sync_call_start_cb(call);
		while (!call->done)
			g_main_context_iteration(self->context, TRUE);
		g_main_context_release(self->context);
	} else {
		/* another thread: the GUI thread shows the dialog, this one waits */
		g_atomic_int_inc(&call->refcount);
		g_main_context_invoke_full(self->context,
		                           G_PRIORITY_DEFAULT,
		                           fst_gui_sync_call_start_cb,
		                           call,
		                           (GDestroyNotify)fst_gui_sync_call_unref);
		g_mutex_lock(&call->lock);
		while (!call->done)
			g_cond_wait(&call->cond, &call->lock);
		g_mutex_unlock(&call->lock);
	}
	secret = g_steal_pointer(&call->secret);
	if (secret == NULL)
		g_propagate_error(error, g_steal_pointer(&call->error));
	fst_gui_sync_call_unref(call);
	return secret;
}

static FstSecret *
fst_gui_interaction_ask_passphrase(FstInteraction *interaction,
                                   const gchar *description,
                                   FstInteractionFlags flags,
                                   GCancellable *cancellable,
                                   GError **error)
{
	return fst_gui_interaction_ask_sync(FST_GUI_INTERACTION(interaction),
	                                    FST_GUI_SECRET_PASSPHRASE,
	                                    description,
	                                    flags,
	                                    cancellable,
	                                    error);
}

static FstSecret *
fst_gui_interaction_ask_pin(FstInteraction *interaction,
                            const gchar *description,
                            FstInteractionFlags flags,
                            GCancellable *cancellable,
                            GError **error)
{
	return fst_gui_interaction_ask_sync(FST_GUI_INTERACTION(interaction),
	                                    FST_GUI_SECRET_PIN,
	                                    description,
	                                    flags,
	                                    cancellable,
	                                    error);
}

static FstSecret *
fst_gui_interaction_ask_password(FstInteraction *interaction,
                                 const gchar *description,
                                 FstInteractionFlags flags,
                                 GCancellable *cancellable,
                                 GError **error)
{
	return fst_gui_interaction_ask_sync(FST_GUI_INTERACTION(interaction),
	                                    FST_GUI_SECRET_PASSWORD,
	                                    description,
	                                    flags,
	                                    cancellable,
	                                    error);
}

/**
 * fst_gui_interaction_set_retry:
 * @self: the interaction
 * @message: why the last secret was refused, and what to do
 *
 * The next question keeps the dialog up and shows @message above it. Call on
 * the GUI thread.
 */
void
fst_gui_interaction_set_retry(FstGuiInteraction *self, const gchar *message)
{
	g_return_if_fail(FST_IS_GUI_INTERACTION(self));
	g_free(self->retry);
	self->retry = g_strdup(message);
}

/**
 * fst_gui_interaction_set_session_secret:
 * @self: the interaction
 * @secret: (nullable): a secret known to unlock the CA, copied; %NULL to
 *   forget it
 *
 * Answers later questions with @secret instead of asking.
 */
void
fst_gui_interaction_set_session_secret(FstGuiInteraction *self, const FstSecret *secret)
{
	g_autoptr(GMutexLocker) locker = NULL;
	FstSecret *copy = NULL;

	g_return_if_fail(FST_IS_GUI_INTERACTION(self));
	if (secret != NULL) {
		gsize len = 0;
		const guint8 *data = fst_secret_get_data(secret, &len);
		copy = fst_secret_new(data, len);
	}
	locker = g_mutex_locker_new(&self->lock);
	g_clear_pointer(&self->session, fst_secret_free);
	self->session = copy;
}

/**
 * fst_gui_interaction_close:
 * @self: the interaction
 *
 * Puts the dialog away: the secret worked, or the caller gave up. A question
 * still waiting is cancelled. Call on the GUI thread.
 */
void
fst_gui_interaction_close(FstGuiInteraction *self)
{
	g_return_if_fail(FST_IS_GUI_INTERACTION(self));
	g_clear_pointer(&self->retry, g_free);
	if (self->dialog != NULL) {
		g_autoptr(FstUnlockDialog) dialog = g_steal_pointer(&self->dialog);
		gtk_window_destroy(GTK_WINDOW(dialog));
	}
}

/**
 * fst_gui_interaction_new:
 * @parent: (nullable): the window the dialog is modal to
 * @workspace: (nullable): the station's workspace
 *
 * Must be called on the GUI thread: its main context shows the dialogs.
 *
 * Returns: (transfer full): an interaction that asks with a dialog
 */
FstGuiInteraction *
fst_gui_interaction_new(GtkWindow *parent, const gchar *workspace)
{
	FstGuiInteraction *self =
	    g_object_new(FST_TYPE_GUI_INTERACTION, "workspace", workspace, NULL);
	g_weak_ref_set(&self->parent, parent);
	return self;
}

static void
fst_gui_interaction_dispose(GObject *object)
{
	FstGuiInteraction *self = FST_GUI_INTERACTION(object);
	fst_gui_interaction_close(self);
	G_OBJECT_CLASS(fst_gui_interaction_parent_class)->dispose(object);
}

static void
fst_gui_interaction_finalize(GObject *object)
{
	FstGuiInteraction *self = FST_GUI_INTERACTION(object);
	g_weak_ref_clear(&self->parent);
	g_clear_pointer(&self->session, fst_secret_free);
	g_mutex_clear(&self->lock);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(fst_gui_interaction_parent_class)->finalize(object);
}

static void
fst_gui_interaction_init(FstGuiInteraction *self)
{
	g_weak_ref_init(&self->parent, NULL);
	g_mutex_init(&self->lock);
	self->context = g_main_context_ref_thread_default();
}

static void
fst_gui_interaction_class_init(FstGuiInteractionClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FstInteractionClass *interaction_class = FST_INTERACTION_CLASS(klass);

	object_class->dispose = fst_gui_interaction_dispose;
	object_class->finalize = fst_gui_interaction_finalize;
	interaction_class->ask_passphrase = fst_gui_interaction_ask_passphrase;
	interaction_class->ask_pin = fst_gui_interaction_ask_pin;
	interaction_class->ask_password = fst_gui_interaction_ask_password;
	interaction_class->ask_passphrase_async = fst_gui_interaction_ask_passphrase_async;
	interaction_class->ask_passphrase_finish = fst_gui_interaction_ask_finish;
	interaction_class->ask_pin_async = fst_gui_interaction_ask_pin_async;
	interaction_class->ask_pin_finish = fst_gui_interaction_ask_finish;
}
