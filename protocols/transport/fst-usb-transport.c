/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A USB device's own vendor-specific interface as a byte stream: FSP frames
 * over its bulk OUT and bulk IN endpoints, through libusb-1.0. CDC-ACM and
 * USB-serial adapters are ttys and stay on the serial transport. Ports are
 * named `usb:BBB-AAA` (bus and device address, as `fleetstation ports`
 * lists them); which interface to claim comes from known-devices.conf
 * (`interface=`), else the first vendor-specific interface with a bulk IN
 * and a bulk OUT endpoint.
 */
#define G_LOG_DOMAIN "FstUsbTransport"

#include "fst-usb-transport.h"

#include <libusb.h>
#include <string.h>

#include "fst-error.h"

/* one IN transfer: a multiple of every bulk packet size, and above the
 * largest FSP frame so that one frame is one transfer */
#define FST_USB_TRANSPORT_RX_MAX 8192u
/* a long wait is cut into slices so that cancellation is seen */
#define FST_USB_TRANSPORT_SLICE_MS 100u

struct _FstUsbTransport {
	FstTransport parent_instance;
	gint interface_number;        /* FST_USB_TRANSPORT_INTERFACE_AUTO or the one to claim */
	gint claimed;                 /* -1 when none */
	libusb_context *ctx;          /* (owned) (nullable) */
	libusb_device_handle *handle; /* (owned) (nullable) */
	guint16 vid;
	guint16 pid;
	guint8 ep_in;
	guint8 ep_out;
	guint8 *rx;   /* (owned): FST_USB_TRANSPORT_RX_MAX */
	guint8 *tx;   /* (owned): FST_USB_TRANSPORT_RX_MAX, one OUT transfer */
	gsize rx_len; /* bytes in @rx not yet returned, from @rx_pos */
	gsize rx_pos;
};

G_DEFINE_TYPE(FstUsbTransport, fst_usb_transport, FST_TYPE_TRANSPORT)

static const gchar *
fst_usb_transport_port(FstUsbTransport *self)
{
	return fst_transport_get_name(FST_TRANSPORT(self));
}

/* every libusb error as a station error that says what to do */
static void
fst_usb_transport_set_error(FstUsbTransport *self, GError **error, gint rc, const gchar *what)
{
	const gchar *port = fst_usb_transport_port(self);

	switch (rc) {
	case LIBUSB_ERROR_ACCESS:
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_PERMISSION_DENIED,
		    "%s (%04x:%04x): %s: access denied; install a udev rule such as "
		    "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"%04x\", ATTR{idProduct}==\"%04x\", "
		    "MODE=\"0660\", GROUP=\"plugdev\" in /etc/udev/rules.d/70-fleetstation.rules "
		    "and add the station's user to the plugdev group",
		    port,
		    self->vid,
		    self->pid,
		    what,
		    self->vid,
		    self->pid);
		return;
	case LIBUSB_ERROR_NO_DEVICE:
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DISCONNECTED,
		            "%s: %s: the device is gone (unplugged or reset); plug it in again",
		            port,
		            what);
		return;
	case LIBUSB_ERROR_TIMEOUT:
		g_set_error(error, FST_ERROR, FST_ERROR_TIMED_OUT, "%s: %s: timed out", port, what);
		return;
	case LIBUSB_ERROR_PIPE:
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: %s: the device stalled the endpoint; its firmware refused the "
		            "transfer: replug it, and check that it runs FSP firmware",
		            port,
		            what);
		return;
	case LIBUSB_ERROR_BUSY:
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_BUSY,
		            "%s: %s: the interface is claimed by another program or driver; close "
		            "it and retry",
		            port,
		            what);
		return;
	case LIBUSB_ERROR_NOT_FOUND:
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "%s: %s: not found; check the port with `fleetstation ports`",
		            port,
		            what);
		return;
	case LIBUSB_ERROR_OVERFLOW:
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "%s: %s: the device sent more than was asked for",
		            port,
		            what);
		return;
	case LIBUSB_ERROR_INTERRUPTED:
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CANCELLED, "%s: %s: interrupted", port, what);
		return;
	case LIBUSB_ERROR_NO_MEM:
	case LIBUSB_ERROR_IO:
	case LIBUSB_ERROR_INVALID_PARAM:
	case LIBUSB_ERROR_NOT_SUPPORTED:
	case LIBUSB_ERROR_OTHER:
	default:
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "%s: %s: %s",
		            port,
		            what,
		            libusb_strerror((enum libusb_error)rc));
		return;
	}
}

/**
 * fst_usb_transport_parse_port:
 * @port: a port name, `usb:BBB-AAA`
 * @bus: (out): the bus number
 * @address: (out): the device address
 *
 * Returns: %TRUE when @port names a USB device
 */
gboolean
fst_usb_transport_parse_port(const gchar *port, guint8 *bus, guint8 *address)
{
	guint64 b;
	guint64 a;
	gchar *end = NULL;
	const gchar *p;

	if (!g_str_has_prefix(port, "usb:"))
		return FALSE;
	p = port + 4;
	b = g_ascii_strtoull(p, &end, 10);
	if (end == p || *end != '-' || b == 0 || b > 255)
		return FALSE;
	p = end + 1;
	a = g_ascii_strtoull(p, &end, 10);
	if (end == p || *end != '\0' || a == 0 || a > 127)
		return FALSE;
	*bus = (guint8)b;
	*address = (guint8)a;
	return TRUE;
}

/* the interface to claim and its bulk endpoints */
static gboolean
fst_usb_transport_find_endpoints(FstUsbTransport *self, libusb_device *dev, GError **error)
{
	struct libusb_config_descriptor *cfg = NULL;
	gint rc = libusb_get_active_config_descriptor(dev, &cfg);

	if (rc != LIBUSB_SUCCESS) {
		fst_usb_transport_set_error(
		    self, error, rc, "reading the configuration descriptor");
		return FALSE;
	}
	for (guint i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface *iface = &cfg->interface[i];
		const struct libusb_interface_descriptor *alt;
		guint8 ep_in = 0;
		guint8 ep_out = 0;

		if (iface->num_altsetting < 1)
			continue;
		alt = &iface->altsetting[0];
		if (self->interface_number != FST_USB_TRANSPORT_INTERFACE_AUTO
		        ? alt->bInterfaceNumber != self->interface_number
		        : alt->bInterfaceClass != LIBUSB_CLASS_VENDOR_SPEC)
			continue;
		for (guint e = 0; e < alt->bNumEndpoints; e++) {
			const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];
			if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) !=
			    LIBUSB_TRANSFER_TYPE_BULK)
				continue;
			if ((ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) != 0) {
				if (ep_in == 0)
					ep_in = ep->bEndpointAddress;
			} else if (ep_out == 0) {
				ep_out = ep->bEndpointAddress;
			}
		}
		if (ep_in != 0 && ep_out != 0) {
			self->claimed = alt->bInterfaceNumber;
			self->ep_in = ep_in;
			self->ep_out = ep_out;
			libusb_free_config_descriptor(cfg);
			return TRUE;
		}
	}
	libusb_free_config_descriptor(cfg);
	if (self->interface_number != FST_USB_TRANSPORT_INTERFACE_AUTO)
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s (%04x:%04x): interface %d has no bulk IN and OUT endpoints; check "
		            "interface= in known-devices.conf",
		            fst_usb_transport_port(self),
		            self->vid,
		            self->pid,
		            self->interface_number);
	else
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s (%04x:%04x): no vendor-specific interface with bulk IN and OUT "
		            "endpoints; a CDC-ACM or USB-serial device is a tty: use its /dev/tty* "
		            "port",
		            fst_usb_transport_port(self),
		            self->vid,
		            self->pid);
	return FALSE;
}

static gboolean
fst_usb_transport_open(FstTransport *transport, GError **error)
{
	FstUsbTransport *self = FST_USB_TRANSPORT(transport);
	libusb_device **list = NULL;
	libusb_device *dev = NULL;
	guint8 bus = 0;
	guint8 address = 0;
	gssize n;
	gint rc;

	if (self->handle != NULL)
		return TRUE;
	if (!fst_usb_transport_parse_port(fst_usb_transport_port(self), &bus, &address)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "'%s' is not a USB port; USB ports are named usb:BUS-ADDRESS, as "
		            "`fleetstation ports` lists them",
		            fst_usb_transport_port(self));
		return FALSE;
	}
	rc = libusb_init(&self->ctx);
	if (rc != LIBUSB_SUCCESS) {
		self->ctx = NULL;
		fst_usb_transport_set_error(self, error, rc, "starting libusb");
		return FALSE;
	}
	n = libusb_get_device_list(self->ctx, &list);
	for (gssize i = 0; i < n; i++) {
		if (libusb_get_bus_number(list[i]) == bus &&
		    libusb_get_device_address(list[i]) == address)
			dev = list[i];
	}
	if (dev == NULL) {
		if (n >= 0)
			libusb_free_device_list(list, 1);
		fst_usb_transport_set_error(
		    self, error, n < 0 ? (gint)n : LIBUSB_ERROR_NO_DEVICE, "opening the device");
		goto fail;
	}
	{
		struct libusb_device_descriptor desc;
		if (libusb_get_device_descriptor(dev, &desc) == LIBUSB_SUCCESS) {
			self->vid = desc.idVendor;
			self->pid = desc.idProduct;
		}
	}
	if (!fst_usb_transport_find_endpoints(self, dev, error)) {
		libusb_free_device_list(list, 1);
		goto fail;
	}
	rc = libusb_open(dev, &self->handle);
	libusb_free_device_list(list, 1);
	if (rc != LIBUSB_SUCCESS) {
		self->handle = NULL;
		fst_usb_transport_set_error(self, error, rc, "opening the device");
		goto fail;
	}
	(void)libusb_set_auto_detach_kernel_driver(self->handle, 1);
	rc = libusb_claim_interface(self->handle, self->claimed);
	if (rc != LIBUSB_SUCCESS) {
		g_autofree gchar *what = g_strdup_printf("claiming interface %d", self->claimed);
		fst_usb_transport_set_error(self, error, rc, what);
		goto fail;
	}
	self->rx_len = 0;
	self->rx_pos = 0;
	g_debug("%s: %04x:%04x interface %d, bulk OUT 0x%02x, IN 0x%02x",
	        fst_usb_transport_port(self),
	        self->vid,
	        self->pid,
	        self->claimed,
	        self->ep_out,
	        self->ep_in);
	return TRUE;
fail:
	if (self->handle != NULL)
		libusb_close(self->handle);
	self->handle = NULL;
	libusb_exit(self->ctx);
	self->ctx = NULL;
	self->claimed = -1;
	return FALSE;
}

static void
fst_usb_transport_close(FstTransport *transport)
{
	FstUsbTransport *self = FST_USB_TRANSPORT(transport);
	if (self->handle != NULL) {
		if (self->claimed >= 0)
			(void)libusb_release_interface(self->handle, self->claimed);
		libusb_close(self->handle);
		self->handle = NULL;
	}
	if (self->ctx != NULL) {
		libusb_exit(self->ctx);
		self->ctx = NULL;
	}
	self->claimed = -1;
	self->rx_len = 0;
}

static gboolean
fst_usb_transport_check_open(FstUsbTransport *self, GError **error)
{
	if (self->handle != NULL)
		return TRUE;
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_INTERNAL,
	            "port %s is not open",
	            fst_usb_transport_port(self));
	return FALSE;
}

static gssize
fst_usb_transport_read(FstTransport *transport,
                       guint8 *buf,
                       gsize len,
                       guint timeout_ms,
                       GCancellable *cancellable,
                       GError **error)
{
	FstUsbTransport *self = FST_USB_TRANSPORT(transport);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	if (!fst_usb_transport_check_open(self, error))
		return -1;
	/* what the last transfer brought beyond what was asked for */
	while (self->rx_len == 0) {
		gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
		gint actual = 0;
		gint rc;

		if (g_cancellable_set_error_if_cancelled(cancellable, error))
			return -1;
		if (left_ms <= 0) {
			fst_usb_transport_set_error(self, error, LIBUSB_ERROR_TIMEOUT, "reading");
			return -1;
		}
		rc = libusb_bulk_transfer(self->handle,
		                          self->ep_in,
		                          self->rx,
		                          FST_USB_TRANSPORT_RX_MAX,
		                          &actual,
		                          (guint)MIN(left_ms, (gint64)FST_USB_TRANSPORT_SLICE_MS));
		if (rc == LIBUSB_ERROR_TIMEOUT && actual == 0)
			continue;
		if (rc != LIBUSB_SUCCESS && rc != LIBUSB_ERROR_TIMEOUT) {
			fst_usb_transport_set_error(self, error, rc, "reading");
			return -1;
		}
		self->rx_pos = 0;
		self->rx_len = (gsize)actual;
	}
	len = MIN(len, self->rx_len);
	memcpy(buf, self->rx + self->rx_pos, len);
	self->rx_pos += len;
	self->rx_len -= len;
	return (gssize)len;
}

static gboolean
fst_usb_transport_write(FstTransport *transport,
                        const guint8 *buf,
                        gsize len,
                        guint timeout_ms,
                        GCancellable *cancellable,
                        GError **error)
{
	FstUsbTransport *self = FST_USB_TRANSPORT(transport);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gsize done = 0;
	gsize chunk;

	if (!fst_usb_transport_check_open(self, error))
		return FALSE;
	while (done < len) {
		gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
		gint actual = 0;
		gint rc;

		if (g_cancellable_set_error_if_cancelled(cancellable, error))
			return FALSE;
		if (left_ms <= 0) {
			fst_usb_transport_set_error(self, error, LIBUSB_ERROR_TIMEOUT, "writing");
			return FALSE;
		}
		/* libusb takes a mutable buffer: a copy, wiped after use */
		chunk = MIN(len - done, (gsize)FST_USB_TRANSPORT_RX_MAX);
		memcpy(self->tx, buf + done, chunk);
		rc = libusb_bulk_transfer(self->handle,
		                          self->ep_out,
		                          self->tx,
		                          (gint)chunk,
		                          &actual,
		                          (guint)MIN(left_ms, (gint64)FST_USB_TRANSPORT_SLICE_MS));
		memset(self->tx, 0, chunk);
		done += (gsize)MAX(actual, 0);
		if (rc == LIBUSB_ERROR_TIMEOUT)
			continue;
		if (rc != LIBUSB_SUCCESS) {
			fst_usb_transport_set_error(self, error, rc, "writing");
			return FALSE;
		}
	}
	return TRUE;
}

/**
 * fst_usb_transport_set_interface:
 * @self: an #FstUsbTransport, not open
 * @interface_number: the interface to claim, or %FST_USB_TRANSPORT_INTERFACE_AUTO
 */
void
fst_usb_transport_set_interface(FstUsbTransport *self, gint interface_number)
{
	g_return_if_fail(FST_IS_USB_TRANSPORT(self));
	self->interface_number = interface_number;
}

static void
fst_usb_transport_finalize(GObject *object)
{
	FstUsbTransport *self = FST_USB_TRANSPORT(object);
	fst_usb_transport_close(FST_TRANSPORT(self));
	g_free(self->rx);
	g_free(self->tx);
	G_OBJECT_CLASS(fst_usb_transport_parent_class)->finalize(object);
}

static void
fst_usb_transport_init(FstUsbTransport *self)
{
	self->interface_number = FST_USB_TRANSPORT_INTERFACE_AUTO;
	self->claimed = -1;
	self->rx = g_malloc(FST_USB_TRANSPORT_RX_MAX);
	self->tx = g_malloc0(FST_USB_TRANSPORT_RX_MAX);
}

static void
fst_usb_transport_class_init(FstUsbTransportClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FstTransportClass *transport_class = FST_TRANSPORT_CLASS(klass);
	object_class->finalize = fst_usb_transport_finalize;
	transport_class->open = fst_usb_transport_open;
	transport_class->close = fst_usb_transport_close;
	transport_class->read = fst_usb_transport_read;
	transport_class->write = fst_usb_transport_write;
}

/**
 * fst_usb_transport_new:
 * @port: `usb:BBB-AAA`
 * @interface_number: the interface whose bulk endpoints carry the frames, or
 *   %FST_USB_TRANSPORT_INTERFACE_AUTO for the first vendor-specific one
 *
 * Returns: (transfer full): a transport, opened by fst_transport_open()
 */
FstTransport *
fst_usb_transport_new(const gchar *port, gint interface_number)
{
	FstTransport *self = g_object_new(FST_TYPE_USB_TRANSPORT, NULL);
	fst_transport_set_name(self, port);
	FST_USB_TRANSPORT(self)->interface_number = interface_number;
	return self;
}

/**
 * fst_usb_transport_new_for_port:
 * @port: `usb:BBB-AAA`
 * @baud_rate: ignored: USB has none
 * @error: (nullable): return location
 *
 * The #FstTransportNewFunc of %FST_TRANSPORT_KIND_USB.
 *
 * Returns: (transfer full): a transport on the first vendor-specific
 *   interface, or %NULL with %FST_ERROR_CONFIG for a name that is no USB port
 */
FstTransport *
fst_usb_transport_new_for_port(const gchar *port, guint baud_rate, GError **error)
{
	guint8 bus;
	guint8 address;
	if (!fst_usb_transport_parse_port(port, &bus, &address)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "'%s' is not a USB port; USB ports are named usb:BUS-ADDRESS",
		            port);
		return NULL;
	}
	return fst_usb_transport_new(port, FST_USB_TRANSPORT_INTERFACE_AUTO);
}
