/*
 * Parsing the XML documents S3 clients send (encryption rules, multipart
 * completion, bucket configuration, batch deletes).  botocore sends the
 * S3 namespace, other clients may not: elements are matched by local
 * name.  The parser never loads DTDs or external entities and never
 * touches the network.
 */
#include "s3/s3_int.h"

#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* Parse `b`; NULL when it is not well-formed or its root is not `root`. */
xmlDoc *
s3_xml_parse(const struct buf *b, const char *root)
{
    xmlDoc *doc;
    xmlNode *n;

    if (b->len == 0 || b->len > INT32_MAX)
        return NULL;
    doc = xmlReadMemory(b->data, (int)b->len, "request.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                        XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
    if (doc == NULL)
        return NULL;
    /* No S3 document has a DTD; one could define entities that change
     * what the text of an element reads as. */
    n = xmlDocGetRootElement(doc);
    if (doc->intSubset != NULL || doc->extSubset != NULL || n == NULL ||
        strcmp((const char *)n->name, root) != 0) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

xmlNode *
s3_xml_root(xmlDoc *doc)
{
    return xmlDocGetRootElement(doc);
}

static xmlNode *
from(xmlNode *n, const char *name)
{
    for (; n != NULL; n = n->next)
        if (n->type == XML_ELEMENT_NODE &&
            strcmp((const char *)n->name, name) == 0)
            return n;
    return NULL;
}

/* First element child of n named `name`, or NULL. */
xmlNode *
s3_xml_child(xmlNode *n, const char *name)
{
    return n ? from(n->children, name) : NULL;
}

/* The next sibling after n with the same name, or NULL. */
xmlNode *
s3_xml_next(xmlNode *n, const char *name)
{
    return n ? from(n->next, name) : NULL;
}

int
s3_xml_count(xmlNode *n, const char *name)
{
    int count = 0;
    xmlNode *c;

    for (c = s3_xml_child(n, name); c != NULL; c = s3_xml_next(c, name))
        count++;
    return count;
}

char *
s3_xml_text(xmlNode *n, const char *name)
{
    xmlNode *c = name ? s3_xml_child(n, name) : n;
    xmlChar *t;
    char *s;

    if (c == NULL)
        return NULL;
    t = xmlNodeGetContent(c);
    if (t == NULL)
        return strdup("");
    s = strdup((const char *)t);
    xmlFree(t);
    return s;
}

void
s3_xml_free(xmlDoc *doc)
{
    if (doc != NULL)
        xmlFreeDoc(doc);
}
