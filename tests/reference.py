"""Independent reference computations shared by tests (kept apart from the library code they check)."""


def edit_distance(a, b):
    """Plain Levenshtein DP over two sequences (strings or word lists), independent of the library the metric uses."""
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
    return row[-1]
