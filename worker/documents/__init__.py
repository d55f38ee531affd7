"""An invoice's documents: a Factur-X PDF/A-3 and a Peppol UBL, rendered from the stored
invoice and its seller (render.render_documents)."""
