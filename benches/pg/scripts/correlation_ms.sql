\set c random(0, 9)
\set p random(1, :messages - 2000)
SELECT * FROM message_store.get_category_messages('cat' || :c, :p, 100, 'origin');
