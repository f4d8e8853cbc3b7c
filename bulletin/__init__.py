"""The monthly bulletin (月度通报): content from the KPI definitions of record, laid out as a
Word document (python-docx) or a PDF (typst), archived and audited."""
