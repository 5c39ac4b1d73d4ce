/* Bitwise CRC-8/SMBUS, CRC-16/ARC and CRC-16/MODBUS (include/crc.h). */
#include "crc.h"

uint8_t crc_8_smbus(uint8_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		crc ^= *p++;
		for (int i = 0; i < 8; i++)
			crc = (uint8_t)(crc & 0x80 ? (crc << 1) ^ 0x07 : crc << 1);
	}
	return crc;
}

uint16_t crc_16_arc(uint16_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		crc ^= *p++;
		for (int i = 0; i < 8; i++)
			crc = (uint16_t)(crc & 1 ? (crc >> 1) ^ 0xA001 : crc >> 1);
	}
	return crc;
}

/* MODBUS is ARC with another initial value; one loop serves both. */
uint16_t crc_16_modbus(const uint8_t *p, size_t n)
{
	return crc_16_arc(0xFFFF, p, n);
}
