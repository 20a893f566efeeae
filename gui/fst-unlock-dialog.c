/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstUnlockDialog: asks the technician or the supervisor for a secret (the
 * issuing CA passphrase, a token PIN) and hands it over in an FstSecret, which
 * is wiped when freed. The text is typed into a GtkPasswordEntry, whose buffer
 * lives in GTK's non-swappable memory and is cleared as soon as it was read.
 *
 * A new secret (one that will encrypt keys being made) is typed twice, and
 * the dialog asks again until both agree.
 *
 * The dialog only collects; whoever asked checks the secret (off the GUI
 * thread) and either closes the dialog or shows why with
 * fst_unlock_dialog_set_error() and asks again. The async pair is the shape
 * of an interaction's ask_password_async()/finish(), so that a GUI
 * interaction object is a thin wrapper around it.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-unlock-dialog.h"

#include <string.h>

#include <glib/gi18n.h>

#include "fst-error.h"

struct _FstUnlockDialog {
	GtkWindow parent_instance;
	/* template widgets, borrowed */
	GtkLabel *prompt_label;
	GtkEditable *entry;
	GtkEditable *confirm_entry;
	GtkLabel *error_label;
	GtkSpinner *spinner;
	GtkWidget *unlock_button;
	/* owned */
	GTask *task; /* (owned) (nullable): the question waiting for an answer */
};

G_DEFINE_TYPE(FstUnlockDialog, fst_unlock_dialog, GTK_TYPE_WINDOW)

static void
fst_unlock_dialog_set_busy(FstUnlockDialog *self, gboolean busy)
{
	gtk_spinner_set_spinning(self->spinner, busy);
	gtk_widget_set_sensitive(GTK_WIDGET(self->entry), !busy);
	gtk_widget_set_sensitive(GTK_WIDGET(self->confirm_entry), !busy);
	gtk_widget_action_set_enabled(GTK_WIDGET(self), "unlock.unlock", !busy);
}

static void
fst_unlock_dialog_unlock_cb(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	FstUnlockDialog *self = FST_UNLOCK_DIALOG(widget);
	g_autoptr(GTask) task = g_steal_pointer(&self->task);
	const gchar *text = gtk_editable_get_text(self->entry);
	FstSecret *secret;

	if (task == NULL)
		return;
	if (text == NULL || text[0] == '\0') {
		self->task = g_steal_pointer(&task);
		fst_unlock_dialog_set_error(self, _("Type the passphrase first"));
		return;
	}
	if (gtk_widget_get_visible(GTK_WIDGET(self->confirm_entry)) &&
	    g_strcmp0(text, gtk_editable_get_text(self->confirm_entry)) != 0) {
		self->task = g_steal_pointer(&task);
		gtk_editable_set_text(self->entry, "");
		gtk_editable_set_text(self->confirm_entry, "");
		fst_unlock_dialog_set_error(self,
		                            _("The two passphrases differ: type it twice again"));
		gtk_widget_grab_focus(GTK_WIDGET(self->entry));
		return;
	}
	secret = fst_secret_new((const guint8 *)text, strlen(text));
	/* the entries' secure buffers are cleared as the text is deleted */
	gtk_editable_set_text(self->entry, "");
	gtk_editable_set_text(self->confirm_entry, "");
	gtk_widget_set_visible(GTK_WIDGET(self->error_label), FALSE);
	fst_unlock_dialog_set_busy(self, TRUE);
	g_task_return_pointer(task, secret, (GDestroyNotify)fst_secret_free);
}

/* the caller learns of a cancel from an idle, never from inside the dialog's
 * own close or dispose, so that it may destroy the dialog then */
static gboolean
fst_unlock_dialog_cancelled_cb(gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	g_task_return_new_error(
	    task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s", _("The unlock was cancelled"));
	return G_SOURCE_REMOVE;
}

static void
fst_unlock_dialog_cancel(FstUnlockDialog *self)
{
	GTask *task = g_steal_pointer(&self->task);
	if (self->entry != NULL)
		gtk_editable_set_text(self->entry, "");
	if (self->confirm_entry != NULL)
		gtk_editable_set_text(self->confirm_entry, "");
	if (task != NULL)
		g_idle_add_full(
		    G_PRIORITY_DEFAULT, fst_unlock_dialog_cancelled_cb, task, g_object_unref);
}

static void
fst_unlock_dialog_cancel_cb(GtkWidget *widget, const gchar *action_name, GVariant *parameter)
{
	FstUnlockDialog *self = FST_UNLOCK_DIALOG(widget);
	fst_unlock_dialog_cancel(self);
	gtk_window_close(GTK_WINDOW(self));
}

static gboolean
fst_unlock_dialog_close_request(GtkWindow *window)
{
	fst_unlock_dialog_cancel(FST_UNLOCK_DIALOG(window));
	return GTK_WINDOW_CLASS(fst_unlock_dialog_parent_class)->close_request(window);
}

/**
 * fst_unlock_dialog_ask_async:
 * @self: the dialog
 * @cancellable: (nullable): withdraws the question
 * @callback: called once the secret was typed or the dialog cancelled
 * @user_data: data for @callback
 *
 * Presents the dialog (again) and waits for the secret. The dialog stays
 * open, busy, until the caller closes it or asks again.
 */
void
fst_unlock_dialog_ask_async(FstUnlockDialog *self,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
	g_return_if_fail(FST_IS_UNLOCK_DIALOG(self));
	fst_unlock_dialog_cancel(self);
	self->task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(self->task, fst_unlock_dialog_ask_async);
	fst_unlock_dialog_set_busy(self, FALSE);
	gtk_window_present(GTK_WINDOW(self));
	gtk_widget_grab_focus(GTK_WIDGET(self->entry));
}

/**
 * fst_unlock_dialog_ask_finish:
 * @self: the dialog
 * @result: the result given to the callback
 * @error: (nullable): return location; %G_IO_ERROR_CANCELLED when the dialog
 *   was cancelled or closed
 *
 * Returns: (transfer full): the secret, or %NULL
 */
FstSecret *
fst_unlock_dialog_ask_finish(FstUnlockDialog *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * fst_unlock_dialog_set_error:
 * @self: the dialog
 * @message: why the secret did not unlock, and what to do
 *
 * Shows @message; call fst_unlock_dialog_ask_async() to ask again.
 */
void
fst_unlock_dialog_set_error(FstUnlockDialog *self, const gchar *message)
{
	g_return_if_fail(FST_IS_UNLOCK_DIALOG(self));
	gtk_label_set_text(self->error_label, message);
	gtk_widget_set_visible(GTK_WIDGET(self->error_label), TRUE);
	fst_unlock_dialog_set_busy(self, FALSE);
}

/**
 * fst_unlock_dialog_set_question:
 * @self: the dialog
 * @title: the dialog's title
 * @prompt: what is asked for and why
 * @confirm: whether the secret is new and typed twice
 *
 * Sets what the next fst_unlock_dialog_ask_async() asks.
 */
void
fst_unlock_dialog_set_question(FstUnlockDialog *self,
                               const gchar *title,
                               const gchar *prompt,
                               gboolean confirm)
{
	g_return_if_fail(FST_IS_UNLOCK_DIALOG(self));
	gtk_window_set_title(GTK_WINDOW(self), title);
	gtk_label_set_text(self->prompt_label, prompt);
	gtk_widget_set_visible(GTK_WIDGET(self->confirm_entry), confirm);
}

/**
 * fst_unlock_dialog_new:
 * @parent: (nullable): the window it is modal to
 * @title: the dialog's title
 * @prompt: what is asked for and why
 *
 * Returns: (transfer full): a dialog, not yet shown
 */
FstUnlockDialog *
fst_unlock_dialog_new(GtkWindow *parent, const gchar *title, const gchar *prompt)
{
	FstUnlockDialog *self =
	    g_object_new(FST_TYPE_UNLOCK_DIALOG, "transient-for", parent, "title", title, NULL);
	gtk_label_set_text(self->prompt_label, prompt);
	gtk_window_set_default_widget(GTK_WINDOW(self), self->unlock_button);
	return self;
}

static void
fst_unlock_dialog_dispose(GObject *object)
{
	FstUnlockDialog *self = FST_UNLOCK_DIALOG(object);
	fst_unlock_dialog_cancel(self);
	gtk_widget_dispose_template(GTK_WIDGET(self), FST_TYPE_UNLOCK_DIALOG);
	G_OBJECT_CLASS(fst_unlock_dialog_parent_class)->dispose(object);
}

static void
fst_unlock_dialog_init(FstUnlockDialog *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
}

static void
fst_unlock_dialog_class_init(FstUnlockDialogClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
	GtkWindowClass *window_class = GTK_WINDOW_CLASS(klass);

	object_class->dispose = fst_unlock_dialog_dispose;
	window_class->close_request = fst_unlock_dialog_close_request;

	gtk_widget_class_set_template_from_resource(
	    widget_class, "/io/github/fleetstation/Station/fst-unlock-dialog.ui");
	gtk_widget_class_bind_template_child(widget_class, FstUnlockDialog, prompt_label);
	gtk_widget_class_bind_template_child(widget_class, FstUnlockDialog, entry);
	gtk_widget_class_bind_template_child(widget_class, FstUnlockDialog, confirm_entry);
	gtk_widget_class_bind_template_child(widget_class, FstUnlockDialog, error_label);
	gtk_widget_class_bind_template_child(widget_class, FstUnlockDialog, spinner);
	gtk_widget_class_bind_template_child(widget_class, FstUnlockDialog, unlock_button);
	gtk_widget_class_install_action(
	    widget_class, "unlock.unlock", NULL, fst_unlock_dialog_unlock_cb);
	gtk_widget_class_install_action(
	    widget_class, "unlock.cancel", NULL, fst_unlock_dialog_cancel_cb);
	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "unlock.cancel", NULL);
}
