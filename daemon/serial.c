/* Serial ports opened raw at any rate, and RS485 mode (include/serial.h).
 * termios2 rather than <termios.h>: cfsetspeed() knows only the B*
 * constants, and inverters and their adapters use rates beyond them. */
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "serial.h"

static int serial_fail(char *why, size_t len, int err, const char *fmt, const char *arg)
{
	if (len)
		snprintf(why, len, fmt, arg, strerror(-err));
	return err;
}

int serial_params_check(const struct serial_params *p, char *why, size_t len)
{
	const char *bad = NULL;

	if (p->baud < 50 || p->baud > 4000000)
		bad = "baud must be 50..4000000";
	else if (p->parity != 'N' && p->parity != 'E' && p->parity != 'O')
		bad = "parity must be none, even or odd";
	else if (p->data_bits < 5 || p->data_bits > 8)
		bad = "data_bits must be 5..8";
	else if (p->stop_bits != 1 && p->stop_bits != 2)
		bad = "stop_bits must be 1 or 2";
	if (!bad)
		return 0;
	if (len)
		snprintf(why, len, "%s", bad);
	return -EINVAL;
}

static tcflag_t serial_csize(uint8_t bits)
{
	switch (bits) {
	case 5:
		return CS5;
	case 6:
		return CS6;
	case 7:
		return CS7;
	default:
		return CS8;
	}
}

int serial_open(const char *path, const struct serial_params *p, int *fd, char *why, size_t len)
{
	struct termios2 t;
	int r, f;

	r = serial_params_check(p, why, len);
	if (r)
		return r;
	f = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (f < 0)
		return serial_fail(why, len, -errno, "opening %s: %s", path);
	if (ioctl(f, TCGETS2, &t)) {
		r = -errno;
		close(f);
		return serial_fail(why, len, r, "%s is not a serial port: %s", path);
	}
	if (ioctl(f, TIOCEXCL)) {
		r = -errno;
		close(f);
		return serial_fail(why, len, r, "locking %s: %s", path);
	}
	memset(&t, 0, sizeof(t));
	t.c_iflag = IGNBRK;
	t.c_cflag = serial_csize(p->data_bits) | CREAD | CLOCAL | BOTHER | (BOTHER << IBSHIFT);
	if (p->parity != 'N')
		t.c_cflag |= PARENB | (p->parity == 'O' ? PARODD : 0);
	if (p->parity != 'N')
		t.c_iflag |= INPCK; /* a parity error is a damaged frame: the CRC says so */
	if (p->stop_bits == 2)
		t.c_cflag |= CSTOPB;
	t.c_ispeed = t.c_ospeed = p->baud;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (ioctl(f, TCSETS2, &t)) {
		r = -errno;
		close(f);
		return serial_fail(why, len, r, "setting up %s: %s", path);
	}
	/* What an earlier program left in the queues is not a reply to us. */
	if (ioctl(f, TCFLSH, TCIOFLUSH)) {
		r = -errno;
		close(f);
		return serial_fail(why, len, r, "flushing %s: %s", path);
	}
	*fd = f;
	return 0;
}

int serial_rs485(int fd, bool rts_on_send, uint32_t delay_before_ms, uint32_t delay_after_ms,
		 char *why, size_t len)
{
	struct serial_rs485 rs;
	int r;

	memset(&rs, 0, sizeof(rs));
	rs.flags = SER_RS485_ENABLED |
		   (rts_on_send ? SER_RS485_RTS_ON_SEND : SER_RS485_RTS_AFTER_SEND);
	rs.delay_rts_before_send = delay_before_ms;
	rs.delay_rts_after_send = delay_after_ms;
	if (ioctl(fd, TIOCSRS485, &rs) == 0)
		return 0;
	r = -errno;

	if (r == -ENOTTY || r == -EINVAL) {
		if (len)
			snprintf(why, len,
				 "the port's driver has no RS485 mode (TIOCSRS485: %s); use "
				 "rs485 = no with an auto-direction transceiver, or a UART "
				 "with the overlay's rs485 settings",
				 strerror(-r));
		return -ENOTTY;
	}
	return serial_fail(why, len, r, "%s: %s", "setting the RS485 mode (TIOCSRS485)");
}
