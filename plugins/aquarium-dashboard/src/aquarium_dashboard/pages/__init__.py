"""The dashboard's own pages, registered through the same hook as anyone's."""
