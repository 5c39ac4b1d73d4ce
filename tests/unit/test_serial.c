/* serial.c on pseudo-terminals: raw mode at standard and odd rates, the
 * bytes passing unchanged, and the refusals with their reasons. */
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "check.h"
#include "serial.h"

static int speed_of(int fd, unsigned *ospeed, tcflag_t *cflag)
{
	struct termios2 t;

	if (ioctl(fd, TCGETS2, &t))
		return -errno;
	*ospeed = t.c_ospeed;
	*cflag = t.c_cflag;
	return 0;
}

/* openpty() needs <termios.h>, which clashes with termios2's header. */
static int pty_pair(int *master, int *slave, char *name, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, len))
		return -1;
	*master = m;
	*slave = open(name, O_RDWR | O_NOCTTY);
	return *slave < 0 ? -1 : 0;
}

static void test_open(uint32_t baud, char parity, uint8_t stop)
{
	struct serial_params p = {baud, parity, 8, stop};
	int master = -1, slave = -1, fd = -1;
	char name[128], why[256] = "", buf[16];
	unsigned speed = 0;
	tcflag_t cflag = 0;
	/* Bytes a cooked tty would eat or change: ^C, ^D, CR, LF, XON/XOFF. */
	static const char raw[] = {0x03, 0x04, 0x0d, 0x0a, 0x11, 0x13, (char)0xff, 0x00};

	CHECK_EQ_INT(pty_pair(&master, &slave, name, sizeof(name)), 0);
	if (master < 0 || slave < 0)
		return;
	CHECK_EQ_INT(serial_open(name, &p, &fd, why, sizeof(why)), 0);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ_INT(speed_of(fd, &speed, &cflag), 0);
	CHECK_EQ_INT(speed, baud);
	CHECK_EQ_INT(cflag & CSIZE, CS8);
	/* Parity is not checked: the pty driver clears PARENB itself (its
	 * bytes never cross a wire). */
	CHECK_EQ_INT(!!(cflag & CSTOPB), stop == 2);
	/* Nothing waiting: a non-blocking read says so. */
	CHECK_EQ_INT(read(fd, buf, sizeof(buf)), -1);
	CHECK_EQ_INT(errno, EAGAIN);
	CHECK_EQ_INT(write(master, raw, sizeof(raw)), sizeof(raw));
	usleep(20000);
	CHECK_EQ_INT(read(fd, buf, sizeof(buf)), sizeof(raw));
	CHECK(!memcmp(buf, raw, sizeof(raw)));
	CHECK_EQ_INT(write(fd, raw, sizeof(raw)), sizeof(raw));
	usleep(20000);
	CHECK_EQ_INT(read(master, buf, sizeof(buf)), sizeof(raw));
	CHECK(!memcmp(buf, raw, sizeof(raw)));
	/* A pty has no RS485 mode: refused with a reason, the fd unharmed. */
	why[0] = '\0';
	CHECK_EQ_INT(serial_rs485(fd, true, 0, 0, why, sizeof(why)), -ENOTTY);
	CHECK(strstr(why, "RS485") != NULL);
	close(fd);
	close(slave);
	close(master);
}

static void test_refusals(void)
{
	struct serial_params good = {9600, 'N', 8, 1};
	static const struct serial_params bad[] = {
		{0, 'N', 8, 1},	   {9600, 'X', 8, 1}, {9600, 'N', 9, 1},
		{9600, 'N', 4, 1}, {9600, 'N', 8, 3}, {5000000, 'N', 8, 1},
	};
	char why[256];
	int fd = -1;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		CHECK_EQ_INT(serial_open("/dev/null", &bad[i], &fd, why, sizeof(why)), -EINVAL);
		CHECK(why[0] != '\0');
	}
	why[0] = '\0';
	CHECK_EQ_INT(serial_open("/nonexistent/ttyUSB9", &good, &fd, why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, "/nonexistent/ttyUSB9") != NULL);
	why[0] = '\0';
	CHECK_EQ_INT(serial_open("/dev/null", &good, &fd, why, sizeof(why)), -ENOTTY);
	CHECK(strstr(why, "not a serial port") != NULL);
	CHECK_EQ_INT(serial_params_check(&good, NULL, 0), 0);
}

int main(void)
{
	test_open(2400, 'N', 1);
	test_open(19200, 'E', 1);
	test_open(9600, 'O', 2);
	test_open(250000, 'N', 1); /* no B* constant: BOTHER */
	test_refusals();
	printf("%d checks, %d failed\n", check_count, check_failures);
	return check_failures != 0;
}
