"""Course-wide settings that more than one step reads: the one place to change them."""

# The public repository the student notebooks are served from. The Colab badge and the
# Colab setup cell of every generated lab are built from these two values.
REPOSITORY = "seqlab-course/seqlab"
BRANCH = "main"
