#include "ref/common/xml.h"

#include <string.h>

#include "ref/common/util.h"

/* The length of the well-formed UTF-8 sequence at s that XML allows, or 0. */
static int xml_char_len(const unsigned char *s)
{
    unsigned cp;
    const int len = utf8_char((const char *)s, &cp);
    if (!len || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xfffe || cp == 0xffff) return 0;
    return len;
}

void xml_escape(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        switch (*p) {
        case '&': fputs("&amp;", f); p++; continue;
        case '<': fputs("&lt;", f); p++; continue;
        case '>': fputs("&gt;", f); p++; continue;
        case '"': fputs("&quot;", f); p++; continue;
        case '\'': fputs("&#39;", f); p++; continue;
        }
        int len = xml_char_len(p);
        if (len) {
            fwrite(p, 1, (size_t)len, f);
            p += len;
        } else {
            fputs("\xef\xbf\xbd", f); /* U+FFFD */
            p++;
        }
    }
}
