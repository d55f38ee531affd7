-- An order stored before 0013 has no seller_id, though its invoices are the configured
-- seller's ("default"): its later messages (absent sellerId: "default") and creates would
-- otherwise be taken as naming another seller. It is the configured seller's, as its
-- invoices are.
UPDATE orders o SET seller_id = 'default'
 WHERE o.seller_id IS NULL
   AND EXISTS (SELECT 1 FROM invoices i WHERE i.order_id = o.order_id AND i.seller_id = 'default');
