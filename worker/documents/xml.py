"""Building the XML documents top down with lxml's SubElement, on element names made once:
a few times faster than lxml.builder's ElementMaker, which dispatches every child and
attribute in Python."""

from __future__ import annotations

from lxml import etree


class Namespace:
    """The Clark names ("{uri}Local") of a namespace's elements, each made on first use:
    `RAM.ID`."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __getattr__(self, local: str) -> str:
        name = f"{{{self.uri}}}{local}"
        setattr(self, local, name)
        return name


def child(
    parent: etree._Element, tag: str, text: str | None = None, **attributes: str
) -> etree._Element:
    """A new last child of `parent`, with `text` and `attributes`."""
    element = etree.SubElement(parent, tag, attributes)
    element.text = text
    return element


def document_bytes(root: etree._Element) -> bytes:
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml
