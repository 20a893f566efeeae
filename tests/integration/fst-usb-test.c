/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FSP over USB bulk endpoints under umockdev: libusb enumerates an emulated
 * device whose bulk OUT transfers go to the device SDK (fst-dev.c with the
 * simulator's HAL) and whose bulk IN transfers carry the SDK's answers, so
 * the station's FstUsbTransport, the FSP driver and the pipeline run as
 * they would against a board. The mixed line adds two emulated USB-serial
 * adapters, one cabled to fleetstation-devsim (FSP) and one to
 * fleetstation-nrf91sim (AT commands), and runs all three lanes in one gang.
 * Run under umockdev-wrapper.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <umockdev.h>
#include <unistd.h>

#include <poll.h>
#include <signal.h>
#include <termios.h>

#include "fst-dev.h"
#include "fst-gang.h"
#include "fst-devsim-hal.h"
#include "fst-dialect.h"
#include "fst-error.h"
#include "fst-pipeline.h"
#include "fst-ports.h"
#include "fst-station.h"
#include "fst-usb-transport.h"

/* device and configuration descriptors: 1209:0001, one vendor-specific
 * interface (class 0xff) with bulk OUT 0x01 and bulk IN 0x81, 512 bytes */
#define FST_TEST_USB_DESCRIPTORS                                                                   \
	"12010002000000400912010000010102030109022000010100803209040000"                           \
	"02ff0000000705010200020007058102000200"

typedef struct {
	const gchar *devnode;
	GMutex lock;
	GQueue done;       /* UMockdevIoctlData * urbs to reap */
	GQueue pending_in; /* bulk IN urbs waiting for data */
	GByteArray *tx;    /* what the SDK sent, not yet in an IN urb */
	int pipe_rd;
	int pipe_wr;
	FstDevsimHal *hal;
	FstDevCtx *ctx;
	gsize out_bytes;
	gsize unplug_after; /* 0 = never: after this many OUT bytes, ENODEV */
	gsize stall_after;  /* 0 = never: after this many OUT bytes, the OUT endpoint stalls */
	gboolean busy;      /* another driver holds the interface */
	gboolean mute;      /* the firmware hangs: nothing comes back IN */
	gboolean gone;
	UMockdevIoctlBase *handler;
} FakeUsb;

static UMockdevTestbed *testbed;

static gchar *
fake_record(guint addr, const gchar *serial)
{
	return g_strdup_printf("P: /devices/pci0000:00/0000:00:14.0/usb1/1-%u\n"
	                       "N: bus/usb/001/%03u\n"
	                       "E: SUBSYSTEM=usb\n"
	                       "E: DEVTYPE=usb_device\n"
	                       "E: DEVNAME=/dev/bus/usb/001/%03u\n"
	                       "E: DRIVER=usb\n"
	                       "E: PRODUCT=1209/1/100\n"
	                       "E: BUSNUM=001\n"
	                       "E: DEVNUM=%03u\n"
	                       "E: MAJOR=189\n"
	                       "E: MINOR=%u\n"
	                       "A: busnum=1\n"
	                       "A: devnum=%u\n"
	                       "A: speed=480\n"
	                       "A: idVendor=1209\n"
	                       "A: idProduct=0001\n"
	                       "A: bConfigurationValue=1\n"
	                       "A: bNumConfigurations=1\n"
	                       "A: serial=%s\n"
	                       "H: descriptors=" FST_TEST_USB_DESCRIPTORS "\n",
	                       addr,
	                       addr,
	                       addr,
	                       addr,
	                       addr - 1,
	                       addr,
	                       serial);
}

static struct usbdevfs_urb *
urb_of(UMockdevIoctlData *d)
{
	return (struct usbdevfs_urb *)d->data;
}

/* with the lock held: what the SDK wrote, into waiting IN urbs */
static void
fake_feed(FakeUsb *f)
{
	guint8 buf[4096];
	ssize_t n;

	while ((n = read(f->pipe_rd, buf, sizeof(buf))) > 0) {
		if (!f->mute)
			g_byte_array_append(f->tx, buf, (guint)n);
	}
	while (f->tx->len > 0 && !g_queue_is_empty(&f->pending_in)) {
		UMockdevIoctlData *urb = g_queue_pop_head(&f->pending_in);
		struct usbdevfs_urb *u = urb_of(urb);
		UMockdevIoctlData *data = umockdev_ioctl_data_resolve(
		    urb, offsetof(struct usbdevfs_urb, buffer), u->buffer_length, NULL);
		gsize len = MIN(f->tx->len, (gsize)u->buffer_length);
		memcpy(data->data, f->tx->data, len);
		g_byte_array_remove_range(f->tx, 0, (guint)len);
		u->actual_length = (int)len;
		u->status = 0;
		g_object_unref(data);
		g_queue_push_tail(&f->done, urb);
	}
}

static gboolean
fake_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user_data)
{
	FakeUsb *f = user_data;
	gulong request = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	g_autoptr(GError) error = NULL;

	g_mutex_lock(&f->lock);
	if (request == USBDEVFS_SUBMITURB) {
		UMockdevIoctlData *urb =
		    umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), &error);
		struct usbdevfs_urb *u = urb_of(urb);
		UMockdevIoctlData *data = NULL;
		g_assert_no_error(error);
		if (u->buffer_length > 0) {
			data = umockdev_ioctl_data_resolve(
			    urb, offsetof(struct usbdevfs_urb, buffer), u->buffer_length, &error);
			g_assert_no_error(error);
		}
		if (f->gone) {
			g_clear_object(&data);
			g_object_unref(urb);
			umockdev_ioctl_client_complete(client, -1, ENODEV);
			g_mutex_unlock(&f->lock);
			return TRUE;
		}
		if (u->type == USBDEVFS_URB_TYPE_BULK && (u->endpoint & 0x80) == 0) {
			gsize len = (gsize)u->buffer_length;
			/* unplugged in the middle of this transfer: the device got
			 * part of it, the station learns the device is gone */
			if (f->unplug_after != 0 && f->out_bytes + len > f->unplug_after) {
				fst_dev_rx(f->ctx, data->data, f->unplug_after - f->out_bytes);
				f->gone = TRUE;
				g_object_unref(data);
				g_object_unref(urb);
				umockdev_ioctl_client_complete(client, -1, ENODEV);
				g_mutex_unlock(&f->lock);
				return TRUE;
			}
			if (f->stall_after != 0 && f->out_bytes + len > f->stall_after) {
				/* the endpoint halts: the urb completes with a stall */
				u->actual_length = 0;
				u->status = -EPIPE;
				g_queue_push_tail(&f->done, urb);
				g_clear_object(&data);
				umockdev_ioctl_client_complete(client, 0, 0);
				g_mutex_unlock(&f->lock);
				return TRUE;
			}
			f->out_bytes += len;
			fst_dev_rx(f->ctx, data->data, len);
			u->actual_length = u->buffer_length;
			u->status = 0;
			g_queue_push_tail(&f->done, urb);
			fake_feed(f);
		} else if (u->type == USBDEVFS_URB_TYPE_BULK) {
			g_queue_push_tail(&f->pending_in, urb);
			fake_feed(f);
		} else {
			/* control requests: none needed, stall them */
			u->actual_length = 0;
			u->status = -EPIPE;
			g_queue_push_tail(&f->done, urb);
		}
		g_clear_object(&data);
		umockdev_ioctl_client_complete(client, 0, 0);
	} else if (request == USBDEVFS_REAPURB || request == USBDEVFS_REAPURBNDELAY) {
		UMockdevIoctlData *urb = g_queue_pop_head(&f->done);
		if (urb == NULL) {
			umockdev_ioctl_client_complete(client, -1, f->gone ? ENODEV : EAGAIN);
		} else {
			UMockdevIoctlData *pp =
			    umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), &error);
			g_assert_no_error(error);
			umockdev_ioctl_data_set_ptr(pp, 0, urb);
			g_object_unref(pp);
			g_object_unref(urb);
			umockdev_ioctl_client_complete(client, 0, 0);
		}
	} else if (request == USBDEVFS_DISCARDURB) {
		gulong addr = *(gulong *)arg->data;
		gboolean found = FALSE;
		for (GList *l = f->pending_in.head; l != NULL; l = l->next) {
			UMockdevIoctlData *urb = l->data;
			if (urb->client_addr != addr)
				continue;
			g_queue_delete_link(&f->pending_in, l);
			urb_of(urb)->status = -ENOENT;
			urb_of(urb)->actual_length = 0;
			g_queue_push_tail(&f->done, urb);
			found = TRUE;
			break;
		}
		umockdev_ioctl_client_complete(client, found ? 0 : -1, found ? 0 : EINVAL);
	} else if (request == USBDEVFS_GET_CAPABILITIES) {
		UMockdevIoctlData *caps =
		    umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), &error);
		g_assert_no_error(error);
		*(guint32 *)caps->data =
		    USBDEVFS_CAP_BULK_CONTINUATION | USBDEVFS_CAP_NO_PACKET_SIZE_LIM;
		g_object_unref(caps);
		umockdev_ioctl_client_complete(client, 0, 0);
	} else if (request == USBDEVFS_GETDRIVER) {
		umockdev_ioctl_client_complete(client, -1, ENODATA);
	} else if ((request == USBDEVFS_CLAIMINTERFACE || request == USBDEVFS_DISCONNECT_CLAIM) &&
	           f->busy) {
		umockdev_ioctl_client_complete(client, -1, EBUSY);
	} else if (request == USBDEVFS_CLAIMINTERFACE || request == USBDEVFS_RELEASEINTERFACE ||
	           request == USBDEVFS_SETINTERFACE || request == USBDEVFS_CLEAR_HALT ||
	           request == USBDEVFS_RESET || request == USBDEVFS_SETCONFIGURATION ||
	           request == USBDEVFS_DISCONNECT_CLAIM) {
		umockdev_ioctl_client_complete(client, f->gone ? -1 : 0, f->gone ? ENODEV : 0);
	} else {
		umockdev_ioctl_client_complete(client, -1, ENOTTY);
	}
	g_mutex_unlock(&f->lock);
	return TRUE;
}

/* an emulated board at 001/@addr with the simulator's HAL behind the SDK */
static FakeUsb *
fake_usb_new(guint addr, const gchar *uid)
{
	FakeUsb *f = g_new0(FakeUsb, 1);
	g_autofree gchar *record = fake_record(addr, uid);
	g_autoptr(GError) error = NULL;
	FstDevsimConfig config = {
	    .uid = uid,
	    .model = "devsim-usb",
	    .key_types = FST_KEY_TYPE_EC_P256,
	    .validation = FST_VALIDATION_ECDSA_P256 | FST_VALIDATION_RSA_PKCS1,
	    .format = FST_CRED_FORMAT_PEM,
	    .capacity_cert = FST_DEVSIM_CAPACITY_CERT,
	    .capacity_chain = FST_DEVSIM_CAPACITY_CHAIN,
	    .capacity_roots = FST_DEVSIM_CAPACITY_ROOTS,
	};
	int fds[2];

	g_mutex_init(&f->lock);
	g_queue_init(&f->done);
	g_queue_init(&f->pending_in);
	f->tx = g_byte_array_new();
	g_assert_true(g_unix_open_pipe(fds, FD_CLOEXEC, NULL));
	f->pipe_rd = fds[0];
	f->pipe_wr = fds[1];
	g_assert_cmpint(fcntl(f->pipe_rd, F_SETFL, O_NONBLOCK), ==, 0);
	f->hal = fst_devsim_hal_new(&config, &error);
	g_assert_no_error(error);
	fst_devsim_hal_set_fd(f->hal, f->pipe_wr);
	f->ctx = g_new0(FstDevCtx, 1);
	g_assert_cmpint(fst_dev_init(f->ctx,
	                             fst_devsim_hal_get_hal(f->hal),
	                             fst_devsim_hal_get_identity(f->hal)),
	                ==,
	                0);
	f->devnode = g_strdup_printf("/dev/bus/usb/001/%03u", addr);
	g_assert_true(umockdev_testbed_add_from_string(testbed, record, &error));
	g_assert_no_error(error);
	f->handler = umockdev_ioctl_base_new();
	g_signal_connect(f->handler, "handle-ioctl", G_CALLBACK(fake_ioctl), f);
	g_assert_true(umockdev_testbed_attach_ioctl(testbed, f->devnode, f->handler, &error));
	g_assert_no_error(error);
	return f;
}

typedef struct {
	gchar *workspace;
	FstStation *station;
	FstProfile *profile;
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *src = g_build_filename(
	    g_getenv("FST_TEMPLATES_DIR"), "profiles", "aws-iot-ecc.profile", NULL);
	g_autofree gchar *dst = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GString) edited = NULL;

	fx->workspace = g_dir_make_tmp("fst-usb-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(fst_station_init_workspace(fx->workspace, "USB Test", &error));
	g_assert_no_error(error);
	fx->station = fst_station_open(fx->workspace, &error);
	g_assert_no_error(error);
	/* read everything back over USB, not by digest: the IN direction
	 * carries whole objects too */
	dst = g_build_filename(fx->workspace, "readback.profile", NULL);
	g_assert_true(g_file_get_contents(src, &text, NULL, &error));
	edited = g_string_new(text);
	g_assert_cmpint(
	    g_string_replace(edited, "[burn]\n", "[burn]\nverify=readback\n", 1), ==, 1);
	g_assert_true(g_file_set_contents(dst, edited->str, -1, &error));
	fx->profile = fst_station_load_profile(fx->station, dst, &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->workspace);
	fst_profile_free(fx->profile);
	fst_station_unref(fx->station);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->workspace);
}

static FstProvisionResult *
provision_port(Fixture *fx, const gchar *port)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDevice) device = fst_dialect_new_device("fsp", port, 0, &error);
	g_assert_no_error(error);
	g_assert_true(FST_IS_USB_TRANSPORT(fst_device_get_transport(device)));
	return fst_pipeline_provision(fx->station, fx->profile, device, NULL, NULL, NULL);
}

static gchar *
verify_detail(Fixture *fx, const gchar *uid)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDbDevice) dev =
	    fst_db_find_device(fst_station_get_db(fx->station), uid, &error);
	g_autoptr(GPtrArray) events = NULL;
	gchar *detail = NULL;
	g_assert_no_error(error);
	g_assert_nonnull(dev);
	events = fst_db_list_events(fst_station_get_db(fx->station), dev->id, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		if (g_strcmp0(ev->step, "verify") == 0 && g_strcmp0(ev->outcome, "ok") == 0)
			detail = g_strdup(ev->detail);
	}
	return detail;
}

/* the whole pipeline over the board's bulk endpoints: provisioned, every
 * object read back over USB, possession proven */
static void
test_provision(Fixture *fx, gconstpointer user_data)
{
	FakeUsb *board;
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(GBytes) stored = NULL;
	g_autofree gchar *detail = NULL;

	board = fake_usb_new(2, "USB-BOARD-1");
	r = provision_port(fx, "usb:001-002");
	g_assert_no_error(r->error);
	g_assert_cmpstr(r->uid, ==, "USB-BOARD-1");
	stored = fst_devsim_hal_get_object(board->hal, 0x01);
	g_assert_nonnull(stored);
	g_assert_true(g_strstr_len(g_bytes_get_data(stored, NULL),
	                           (gssize)g_bytes_get_size(stored),
	                           "-----BEGIN CERTIFICATE-----") != NULL);
	detail = verify_detail(fx, "USB-BOARD-1");
	g_assert_nonnull(detail);
	g_assert_nonnull(strstr(detail, "all objects read back identical"));
	g_assert_nonnull(strstr(detail, "proof of possession verified"));
	/* the IN direction carried whole objects */
	g_assert_cmpuint(r->bytes_in, >, 4000);
}

/* the board is pulled out in the middle of the certificate's WRITEs: the
 * station says the device is gone, the board never committed it */
static void
test_unplug_mid_write(Fixture *fx, gconstpointer user_data)
{
	FakeUsb *board = fake_usb_new(4, "USB-BOARD-2");
	g_autoptr(FstProvisionResult) r = NULL;

	/* HELLO, KEYGEN and the READs of the CSR are under 200 bytes out, the
	 * certificate is about 750: the unplug comes in its WRITEs */
	board->unplug_after = 400;
	r = provision_port(fx, "usb:001-004");
	g_assert_error(r->error, FST_ERROR, FST_ERROR_DISCONNECTED);
	g_assert_nonnull(strstr(r->error->message, "usb:001-004"));
	g_assert_nonnull(strstr(r->error->message, "gone"));
	g_assert_null(fst_devsim_hal_get_object(board->hal, 0x01));
	g_assert_cmpuint(fst_devsim_hal_get_commit_count(board->hal), ==, 0);
}

/* the firmware stalls the OUT endpoint in the certificate's WRITEs: the
 * station names the stall and what to check, the board committed nothing */
static void
test_stall(Fixture *fx, gconstpointer user_data)
{
	FakeUsb *board = fake_usb_new(13, "USB-BOARD-7");
	g_autoptr(FstProvisionResult) r = NULL;

	board->stall_after = 400;
	r = provision_port(fx, "usb:001-013");
	g_assert_error(r->error, FST_ERROR, FST_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(r->error->message, "usb:001-013"));
	g_assert_nonnull(strstr(r->error->message, "stalled"));
	g_assert_null(fst_devsim_hal_get_object(board->hal, 0x01));
	g_assert_cmpuint(fst_devsim_hal_get_commit_count(board->hal), ==, 0);
}

/* another driver or program holds the interface: the station says so and
 * sends nothing to the board */
static void
test_busy(Fixture *fx, gconstpointer user_data)
{
	FakeUsb *board = fake_usb_new(14, "USB-BOARD-8");
	g_autoptr(FstProvisionResult) r = NULL;

	board->busy = TRUE;
	r = provision_port(fx, "usb:001-014");
	g_assert_error(r->error, FST_ERROR, FST_ERROR_BUSY);
	g_assert_nonnull(strstr(r->error->message, "usb:001-014"));
	g_assert_nonnull(strstr(r->error->message, "claimed by another program"));
	g_assert_cmpuint(board->out_bytes, ==, 0);
}

/* the firmware hangs: the station gives up with a time-out instead of
 * waiting for ever, and nothing was issued for a board that never answered */
static void
test_mute(Fixture *fx, gconstpointer user_data)
{
	FakeUsb *board = fake_usb_new(15, "USB-BOARD-9");
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDbDevice) dev = NULL;

	board->mute = TRUE;
	r = provision_port(fx, "usb:001-015");
	g_assert_error(r->error, FST_ERROR, FST_ERROR_TIMED_OUT);
	g_assert_nonnull(strstr(r->error->message, "usb:001-015"));
	g_assert_cmpuint(board->out_bytes, >, 0);
	dev = fst_db_find_device(fst_station_get_db(fx->station), "USB-BOARD-9", &error);
	g_assert_null(dev);
}

/* a board plugged in while the station runs is enumerated and provisioned,
 * and a port that names no board fails as gone */
static void
test_hotplug_arrival(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(FstProvisionResult) absent = provision_port(fx, "usb:001-009");
	g_autoptr(FstProvisionResult) r = NULL;
	FakeUsb *board;

	g_assert_error(absent->error, FST_ERROR, FST_ERROR_DISCONNECTED);
	board = fake_usb_new(9, "USB-BOARD-3");
	r = provision_port(fx, "usb:001-009");
	g_assert_no_error(r->error);
	{
		g_autoptr(GBytes) cert = fst_devsim_hal_get_object(board->hal, 0x01);
		g_assert_nonnull(cert);
	}
}

/* a USB-serial adapter at 1-@n with /dev/@tty, of @vid:@pid */
static gchar *
tty_record(guint n, const gchar *tty, const gchar *vid, const gchar *pid, guint minor)
{
	return g_strdup_printf(
	    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-%u\n"
	    "N: bus/usb/001/%03u\n"
	    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DEVNAME=/dev/bus/usb/001/%03u\n"
	    "E: BUSNUM=001\nE: DEVNUM=%03u\nE: MAJOR=189\nE: MINOR=%u\n"
	    "A: busnum=1\nA: devnum=%u\nA: speed=12\nA: idVendor=%s\nA: idProduct=%s\n"
	    "A: bConfigurationValue=1\nA: bNumConfigurations=1\nA: serial=TTY-%u\n"
	    "\n"
	    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-%u/1-%u:1.0\n"
	    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nA: bInterfaceNumber=00\n"
	    "\n"
	    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-%u/1-%u:1.0/%s\n"
	    "E: SUBSYSTEM=usb-serial\nE: DRIVER=cp210x\n"
	    "\n"
	    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-%u/1-%u:1.0/%s/tty/%s\n"
	    "L: device=../../../%s\n"
	    "N: %s\n"
	    "E: SUBSYSTEM=tty\nE: DEVNAME=/dev/%s\nE: MAJOR=188\nE: MINOR=%u\n"
	    "A: dev=188:%u\n",
	    n,
	    n,
	    n,
	    n,
	    n + 100,
	    n,
	    vid,
	    pid,
	    n,
	    n,
	    n,
	    n,
	    n,
	    tty,
	    n,
	    n,
	    tty,
	    tty,
	    tty,
	    tty,
	    tty,
	    minor,
	    minor);
}

/* bytes both ways between umockdev's side of an emulated tty and a
 * simulator's pty, as the adapter and its cable would */
typedef struct {
	int a;
	int b;
	gint stop;
	GThread *thread;
	GSubprocess *sim;
} Cable;

static gpointer
cable_thread(gpointer data)
{
	Cable *c = data;
	while (!g_atomic_int_get(&c->stop)) {
		struct pollfd pfd[2] = {{.fd = c->a, .events = POLLIN},
		                        {.fd = c->b, .events = POLLIN}};
		if (poll(pfd, 2, 50) <= 0)
			continue;
		for (guint i = 0; i < 2; i++) {
			guint8 buf[4096];
			gssize n;
			if ((pfd[i].revents & POLLIN) == 0)
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			for (gssize done = 0; n > 0 && done < n;) {
				gssize w =
				    write(i == 0 ? c->b : c->a, buf + done, (gsize)(n - done));
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					break;
				if (w > 0)
					done += w;
			}
		}
	}
	return NULL;
}

static void
cable_plug(Cable *c, const gchar *devnode, const gchar *const *argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree gchar *line = NULL;
	struct termios tio;

	c->a = umockdev_testbed_get_dev_fd(testbed, devnode);
	g_assert_cmpint(c->a, >=, 0);
	c->sim = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
	g_assert_no_error(error);
	in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(c->sim));
	line = g_data_input_stream_read_line(in, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(line, "READY /"));
	c->b = open(line + 6, O_RDWR | O_NOCTTY | O_CLOEXEC);
	g_assert_cmpint(c->b, >=, 0);
	g_assert_cmpint(tcgetattr(c->b, &tio), ==, 0);
	cfmakeraw(&tio);
	g_assert_cmpint(tcsetattr(c->b, TCSANOW, &tio), ==, 0);
	c->thread = g_thread_new("cable", cable_thread, c);
}

static void
cable_unplug(Cable *c)
{
	g_atomic_int_set(&c->stop, 1);
	g_thread_join(c->thread);
	close(c->b);
	g_subprocess_send_signal(c->sim, SIGTERM);
	g_subprocess_wait(c->sim, NULL, NULL);
	g_object_unref(c->sim);
}

/* one gang, three lanes, three kinds of device: FSP behind a CP2102
 * (known-devices: fsp), an nRF91 modem behind an adapter whose USB id the
 * table gives nrf91, and an FSP board on its own USB bulk endpoints; each
 * lane's dialect comes from the registry through the table, none is asked
 * for */
static void
test_mixed_line(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *tty0 = tty_record(6, "ttyUSB0", "10c4", "ea60", 0);
	g_autofree gchar *tty1 = tty_record(7, "ttyUSB1", "1915", "910a", 1);
	g_autofree gchar *fsp_storage = g_build_filename(fx->workspace, "fsp.dev", NULL);
	g_autofree gchar *modem_storage = g_build_filename(fx->workspace, "modem.store", NULL);
	g_autofree gchar *profile_path = g_build_filename(fx->workspace, "mixed.profile", NULL);
	g_autofree gchar *src =
	    g_build_filename(g_getenv("FST_TEMPLATES_DIR"), "profiles", "nrf91.profile", NULL);
	g_autofree gchar *text = NULL;
	g_autoptr(GString) edited = NULL;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(GPtrArray) results = NULL;
	g_autoptr(GKeyFile) store = g_key_file_new();
	g_autoptr(GError) error = NULL;
	const gchar *fsp_argv[] = {
	    g_getenv("FST_DEVSIM"), "--uid", "MIXED-FSP-1", "--storage", fsp_storage, NULL};
	const gchar *modem_argv[] = {g_getenv("FST_NRF91SIM"),
	                             "--imei",
	                             "352656100367890",
	                             "--storage",
	                             modem_storage,
	                             NULL};
	const gchar *ports[] = {"/dev/ttyUSB0", "/dev/ttyUSB1", "usb:001-012", NULL};
	FstGangOptions options = {.baud_rate = 115200};
	FakeUsb *board;
	Cable fsp_cable = {0};
	Cable modem_cable = {0};
	guint seen = 0;

	g_assert_true(umockdev_testbed_add_from_string(testbed, tty0, &error));
	g_assert_no_error(error);
	g_assert_true(umockdev_testbed_add_from_string(testbed, tty1, &error));
	g_assert_no_error(error);
	cable_plug(&fsp_cable, "/dev/ttyUSB0", fsp_argv);
	cable_plug(&modem_cable, "/dev/ttyUSB1", modem_argv);
	board = fake_usb_new(12, "MIXED-USB-1");

	/* the nRF91 profile, for every model on the line */
	g_assert_true(g_file_get_contents(src, &text, NULL, &error));
	edited = g_string_new(text);
	g_assert_cmpint(
	    g_string_replace(edited, "models=nRF91*;", "models=devsim-*;nRF91*;", 1), ==, 1);
	g_assert_cmpint(g_string_replace(edited, "name=nrf91\n", "name=mixed-line\n", 1), ==, 1);
	g_assert_true(g_file_set_contents(profile_path, edited->str, -1, &error));
	profile = fst_station_load_profile(fx->station, profile_path, &error);
	g_assert_no_error(error);

	/* the jig's sockets A, B and C, by USB port path */
	{
		g_autofree gchar *conf = g_build_filename(fx->workspace, "station.conf", NULL);
		g_autofree gchar *old = NULL;
		g_autofree gchar *with_lanes = NULL;
		g_assert_true(g_file_get_contents(conf, &old, NULL, &error));
		with_lanes = g_strconcat(old, "\n[lanes]\nA=1-6\nB=1-7\nC=1-12\n", NULL);
		g_assert_true(g_file_set_contents(conf, with_lanes, -1, &error));
	}
	results = fst_gang_run(fx->station, profile, ports, &options, NULL, NULL);
	cable_unplug(&fsp_cable);
	cable_unplug(&modem_cable);
	g_assert_cmpuint(results->len, ==, 3);
	for (guint i = 0; i < results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(results, i);
		g_assert_no_error(r->error);
		g_assert_nonnull(r->serial_hex);
		g_assert_cmpstr(r->roots, ==, "AmazonRootCA1,AmazonRootCA3");
		if (g_strcmp0(r->port, "/dev/ttyUSB0") == 0) {
			g_assert_cmpstr(r->uid, ==, "MIXED-FSP-1");
			g_assert_cmpstr(r->lane, ==, "A");
			seen |= 1;
		} else if (g_strcmp0(r->port, "/dev/ttyUSB1") == 0) {
			g_assert_cmpstr(r->uid, ==, "352656100367890");
			g_assert_cmpstr(r->model, ==, "nRF9160-SICA");
			g_assert_cmpstr(r->lane, ==, "B");
			seen |= 2;
		} else {
			g_assert_cmpstr(r->port, ==, "usb:001-012");
			g_assert_cmpstr(r->uid, ==, "MIXED-USB-1");
			g_assert_cmpstr(r->lane, ==, "C");
			seen |= 4;
		}
		/* the audit trail names the lane too */
		{
			g_autoptr(FstDbDevice) dev =
			    fst_db_find_device(fst_station_get_db(fx->station), r->uid, &error);
			g_autoptr(GPtrArray) events = NULL;
			g_autofree gchar *want = g_strdup_printf("lane %s", r->lane);
			gboolean named = FALSE;
			g_assert_no_error(error);
			events =
			    fst_db_list_events(fst_station_get_db(fx->station), dev->id, &error);
			g_assert_no_error(error);
			for (guint j = 0; j < events->len; j++) {
				FstDbEvent *ev = g_ptr_array_index(events, j);
				if (g_strcmp0(ev->step, "identify") == 0 && ev->detail != NULL &&
				    strstr(ev->detail, want) != NULL)
					named = TRUE;
			}
			g_assert_true(named);
		}
	}
	g_assert_cmpuint(seen, ==, 7);
	/* what each device holds */
	{
		g_autoptr(GBytes) cert = fst_devsim_hal_get_object(board->hal, 0x01);
		g_assert_nonnull(cert);
	}
	g_assert_true(g_key_file_load_from_file(store, modem_storage, G_KEY_FILE_NONE, &error));
	g_assert_no_error(error);
	g_assert_true(g_key_file_has_key(store, "16842753", "1", NULL));
	g_assert_true(g_key_file_has_key(store, "16842753", "0", NULL));
	{
		const gchar *argv[] = {g_getenv("FST_DEVSIM"),
		                       "--storage",
		                       fsp_storage,
		                       "--dump",
		                       "device-cert",
		                       NULL};
		g_autoptr(GSubprocess) p =
		    g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
		g_assert_no_error(error);
		g_assert_true(g_subprocess_wait_check(p, NULL, &error));
		g_assert_no_error(error);
	}
}

/* which interface carries the frames is data: known-devices.conf */
static void
test_known_devices_interface(Fixture *fx, gconstpointer user_data)
{
	FakeUsb *board = fake_usb_new(5, "USB-BOARD-4");
	g_autofree gchar *path = g_build_filename(fx->workspace, "known-devices.conf", NULL);
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < 2; i++) {
		g_autofree gchar *text = g_strdup_printf(
		    "[usb 1209:0001]\ndescription=FSP board\ndialect=fsp\ninterface=%u\n",
		    i == 0 ? 3u : 0u);
		g_autoptr(FstKnownDevices) known = NULL;
		g_autoptr(FstDevice) device = NULL;
		g_autoptr(FstProvisionResult) r = NULL;

		g_assert_true(g_file_set_contents(path, text, -1, &error));
		known = fst_known_devices_load(path, &error);
		g_assert_no_error(error);
		g_assert_cmpint(
		    fst_known_devices_lookup_interface(known, 0x1209, 0x0001), ==, i == 0 ? 3 : 0);
		device = fst_device_new_for_port(known, "usb:001-005", NULL, 0, &error);
		g_assert_no_error(error);
		r = fst_pipeline_provision(fx->station, fx->profile, device, NULL, NULL, NULL);
		if (i == 0) {
			/* the board has no interface 3 */
			g_assert_error(r->error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
			g_assert_nonnull(strstr(r->error->message, "interface 3"));
		} else {
			g_assert_no_error(r->error);
		}
	}
	{
		g_autoptr(GBytes) cert = fst_devsim_hal_get_object(board->hal, 0x01);
		g_assert_nonnull(cert);
	}

	/* a bad interface number names the file and the group */
	g_assert_true(
	    g_file_set_contents(path, "[usb 1209:0001]\ndialect=fsp\ninterface=x\n", -1, &error));
	g_assert_null(fst_known_devices_load(path, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "usb 1209:0001"));
}

int
main(int argc, char **argv)
{
	g_setenv(FST_ENV_CA_PASSPHRASE, "usb-test-passphrase", TRUE);
	g_test_init(&argc, &argv, NULL);
	/* the testbed before anything asks whether it runs in one */
	testbed = umockdev_testbed_new();
	if (!umockdev_in_mock_environment()) {
		g_printerr("run under umockdev-wrapper\n");
		return 77;
	}
	g_test_add("/fst/usb/provision-read-back-proven",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_provision,
	           fixture_teardown);
	g_test_add("/fst/usb/unplug-mid-write",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_unplug_mid_write,
	           fixture_teardown);
	g_test_add("/fst/usb/stall", Fixture, NULL, fixture_setup, test_stall, fixture_teardown);
	g_test_add(
	    "/fst/usb/interface-busy", Fixture, NULL, fixture_setup, test_busy, fixture_teardown);
	g_test_add(
	    "/fst/usb/firmware-hangs", Fixture, NULL, fixture_setup, test_mute, fixture_teardown);
	g_test_add("/fst/usb/known-devices-interface",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_known_devices_interface,
	           fixture_teardown);
	g_test_add("/fst/devices/mixed-line",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_mixed_line,
	           fixture_teardown);
	g_test_add("/fst/usb/hotplug-arrival",
	           Fixture,
	           NULL,
	           fixture_setup,
	           test_hotplug_arrival,
	           fixture_teardown);
	/* the testbed lives until the process ends (its directory stays in
	 * /tmp): freeing it stops its ioctl thread, and LeakSanitizer can then
	 * run while that thread's OpenSSL random state is being torn down */
	return g_test_run();
}
