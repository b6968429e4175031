/* Hex digits, as JSON escapes, URL escapes and regex escapes spell them. */
#ifndef EP_HEX_H
#define EP_HEX_H

/* The value of one hex digit (either case), or -1 when c is not one. */
static inline int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
