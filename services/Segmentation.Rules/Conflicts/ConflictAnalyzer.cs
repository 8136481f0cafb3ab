using System.Runtime.ExceptionServices;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Conflicts;

/// <summary>
/// Design-time analysis of a ruleset (DESIGN.md "Conflicts"): for every pair of segments in an exclusive group, whether
/// one customer can satisfy both conditions at the same instant; segments that can never match; segments shadowed by a
/// higher-priority one of their group; duplicates. Pure and deterministic (a time budget aside: it reads the clock it is
/// given).
/// </summary>
public static partial class ConflictAnalyzer
{
    /// <summary>Beyond this many combinations of alternatives a question is answered "unknown".</summary>
    private const int MaxCombinations = 4096;

    /// <summary>Models tried per satisfiable combination, and witness attempts per pair in all.</summary>
    private const int AttemptsPerCombination = 4;

    private const int AttemptsPerPair = 24;

    /// <summary>
    /// Analyses the ruleset within <paramref name="budget"/> (none: unlimited). Throws
    /// <see cref="OperationCanceledException"/> soon after <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public static ConflictReport Analyze(Ruleset ruleset, ConflictAnalysisBudget? budget = null, CancellationToken cancellationToken = default) =>
        Analyze(ruleset, budget, shortcuts: true, cancellationToken);

    /// <summary>
    /// The same analysis with every question solved from scratch: no verdict shared between pairs of the same two
    /// conditions, no implication refuted by an example history, no solver set-up reused (a model's witness history is
    /// still built once per builder). The reference the shortcuts are tested against.
    /// </summary>
    internal static ConflictReport AnalyzeWithoutShortcuts(Ruleset ruleset) => Analyze(ruleset, null, shortcuts: false, CancellationToken.None);

    private static ConflictReport Analyze(Ruleset ruleset, ConflictAnalysisBudget? budget, bool shortcuts, CancellationToken cancellationToken)
    {
        var meter = (budget ?? Unlimited).Start();
        var forms = new FormCache(ruleset);
        var findings = new List<ConflictFinding>();
        var unsatisfiable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var segment in ruleset.Segments)
        {
            if (Empty([forms.Positive(segment)], null, cancellationToken) is { } why)
            {
                unsatisfiable.Add(segment.Name);
                findings.Add(new ConflictFinding(segment.Group, FindingKind.Unsatisfiable, [segment.Name], $"{segment.Name} can never match: {why}"));
            }
        }

        var pairsBefore = 0L;
        foreach (var group in ruleset.Groups.Values.Where(g => g.Exclusive).OrderBy(g => g.Name, StringComparer.Ordinal))
        {
            // Highest priority first, then name: the order in which the engine gives the slot.
            var members = ruleset.Segments.Where(s => s.Group == group.Name)
                .OrderByDescending(s => s.Priority).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();
            var pairs = (long)members.Count * (members.Count - 1) / 2;
            var rows = new List<ConflictFinding>[Math.Max(0, members.Count - 1)];
            var nextRow = -1;
            var workers = pairs >= PairsWorthAThread ? Math.Min(Environment.ProcessorCount, rows.Length) : 1;
            var shared = shortcuts ? new SharedAnswers(members) : null;

            // Each worker takes the next row (a higher segment and every lower one) with analysis state of its own; the
            // rows are put together in order, so the findings are the same whatever the threads did.
            void Work()
            {
                var analysis = new GroupAnalysis(ruleset, group, members, forms, unsatisfiable, shared);
                for (var i = Interlocked.Increment(ref nextRow); i < rows.Length; i = Interlocked.Increment(ref nextRow))
                {
                    var row = new List<ConflictFinding>();
                    var index = pairsBefore + (i * (members.Count - 1L)) - ((long)i * (i - 1) / 2);
                    for (var j = i + 1; j < members.Count; j++, index++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var (higher, lower) = (members[i], members[j]);
                        if (meter.Allows(index))
                        {
                            analysis.AnalysePair(higher, lower, row, cancellationToken);
                            meter.PairDone();
                        }
                        else
                        {
                            row.Add(new ConflictFinding(group.Name, FindingKind.Unknown, Sorted(higher, lower), ConflictReport.BudgetExceededDescription));
                        }
                    }

                    rows[i] = row;
                }
            }

            if (workers == 1)
            {
                Work();
            }
            else
            {
                try
                {
                    Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ => Work());
                }
                catch (AggregateException failed)
                {
                    // As on one thread: cancellation as itself, anything else as the first failure.
                    cancellationToken.ThrowIfCancellationRequested();
                    ExceptionDispatchInfo.Capture(failed.InnerExceptions[0]).Throw();
                }
            }

            findings.AddRange(rows.SelectMany(row => row));
            pairsBefore += pairs;
        }

        var rejecting = ruleset.Groups.Values.Where(g => g.Exclusive && g.OnConflict == ConflictPolicy.Reject).Select(g => g.Name)
            .ToHashSet(StringComparer.Ordinal);
        return new ConflictReport(InReportOrder(findings), rejecting, meter.Exceeded);
    }

    /// <summary>
    /// The findings by group, then segments (as their names joined by line breaks would sort, ordinal), then kind; in the
    /// order given where all three are equal.
    /// </summary>
    private static List<ConflictFinding> InReportOrder(List<ConflictFinding> findings)
    {
        var order = new int[findings.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (x, y) =>
        {
            var (a, b) = (findings[x], findings[y]);
            var byGroup = string.CompareOrdinal(a.Group ?? string.Empty, b.Group ?? string.Empty);
            if (byGroup != 0)
            {
                return byGroup;
            }

            var bySegments = CompareJoined(a.Segments, b.Segments);
            return bySegments != 0 ? bySegments : a.Kind != b.Kind ? a.Kind.CompareTo(b.Kind) : x.CompareTo(y);
        });
        return [.. order.Select(i => findings[i])];
    }

    /// <summary>
    /// The sign of the ordinal comparison of the names joined by line breaks, without joining them (half a million
    /// findings are sorted): name by name, the shorter name of a differing pair followed by its line break or its end.
    /// </summary>
    private static int CompareJoined(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        for (var i = 0; i < a.Count && i < b.Count; i++)
        {
            var (x, y) = (a[i], b[i]);
            var common = Math.Min(x.Length, y.Length);
            var byPrefix = string.CompareOrdinal(x, 0, y, 0, common);
            if (byPrefix != 0)
            {
                return byPrefix;
            }

            if (x.Length == y.Length)
            {
                continue;
            }

            // One name is a prefix of the other: what follows the shorter one decides.
            var shorterFirst = x.Length < y.Length;
            var (shorterHasNext, longerChar) = shorterFirst ? (i + 1 < a.Count, y[common]) : (i + 1 < b.Count, x[common]);
            if (longerChar == '\n' && shorterHasNext)
            {
                // A name with a line break of its own: only the joined text says.
                return string.CompareOrdinal(string.Join("\n", a), string.Join("\n", b));
            }

            var shorterBefore = !shorterHasNext || '\n' < longerChar;
            return shorterBefore == shorterFirst ? -1 : 1;
        }

        return a.Count.CompareTo(b.Count);
    }

    private static readonly ConflictAnalysisBudget Unlimited = new();

    /// <summary>A group with fewer pairs is analysed on the calling thread: more threads would not pay for their set-up.</summary>
    private const long PairsWorthAThread = 2_000;

    private static string[] Sorted(SegmentRule a, SegmentRule b) =>
        string.CompareOrdinal(a.Name, b.Name) <= 0 ? [a.Name, b.Name] : [b.Name, a.Name];

    private static string Precedence(SegmentRule higher, SegmentRule lower) => higher.Priority == lower.Priority
        ? $"equal priority {higher.Priority}, the name decides"
        : $"priority {higher.Priority} over {lower.Priority}";

    /// <summary>Normal forms of each segment's condition and its negation, computed up front so that threads can share them.</summary>
    private sealed class FormCache(Ruleset ruleset)
    {
        private readonly Dictionary<(string, bool), NormalForm> forms = ruleset.Segments
            .SelectMany(segment => new[] { false, true }.Select(negated =>
                (Key: (segment.Name, negated), Form: ConditionNormalizer.Normalize(segment.Condition, ruleset.Attributes, negated))))
            .ToDictionary(p => p.Key, p => p.Form);

        public NormalForm Positive(SegmentRule segment) => forms[(segment.Name, false)];

        public NormalForm Negative(SegmentRule segment) => forms[(segment.Name, true)];
    }

    /// <summary>Why the conjunction of the forms is empty, or null when that is not proven.</summary>
    private static string? Empty(IReadOnlyList<NormalForm> conjunction, CubeSolver.SetUps? setUps, CancellationToken cancellationToken)
    {
        var reasons = new List<string>();
        foreach (var atoms in Combinations(conjunction))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (atoms is null)
            {
                return null;
            }

            var solver = CubeSolver.Solve(atoms, setUps);
            if (solver.Satisfiable)
            {
                return null;
            }

            reasons.Add(solver.Contradiction!);
        }

        return Summarize(reasons);
    }

    private static string Summarize(List<string> reasons)
    {
        var distinct = reasons.Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count == 0 ? "no alternative of the conditions can hold"
            : string.Join("; ", distinct.Take(3)) + (distinct.Count > 3 ? $"; and {distinct.Count - 3} more" : string.Empty);
    }

    /// <summary>
    /// Each way of picking one alternative from every form (the first form's alternative changing slowest), as the
    /// alternatives picked, whose atoms in order are the conjunction; a single null when there are too many.
    /// </summary>
    private static IEnumerable<IReadOnlyList<Atom>[]?> Combinations(IReadOnlyList<NormalForm> conjunction)
    {
        var total = conjunction.Aggregate(1L, (product, form) => product * form.Cubes.Count);
        if (total > MaxCombinations)
        {
            yield return null;
            yield break;
        }

        var picked = new int[conjunction.Count];
        for (var produced = 0L; produced < total; produced++)
        {
            var combination = new IReadOnlyList<Atom>[conjunction.Count];
            for (var i = 0; i < combination.Length; i++)
            {
                combination[i] = conjunction[i].Cubes[picked[i]];
            }

            yield return combination;
            for (var position = picked.Length - 1; position >= 0 && ++picked[position] == conjunction[position].Cubes.Count; position--)
            {
                picked[position] = 0;
            }
        }
    }

    /// <summary>The overlap in words: the distinct constraints of one alternative of each condition.</summary>
    private static string Region(IReadOnlyList<Atom>[] combination)
    {
        // A "not null" is left out when another constraint names the variable (it says as much).
        var texts = new List<string>();
        foreach (var cube in combination)
        {
            foreach (var atom in cube)
            {
                if ((atom is not NullAtom { IsNull: false } notNull || !Mentioned(notNull.Variable.ToString())) && !texts.Contains(atom.Text))
                {
                    texts.Add(atom.Text);
                }
            }
        }

        return texts.Count == 0 ? "any history (both conditions always hold)" : string.Join(" and ", texts);

        bool Mentioned(string variable) =>
            combination.Any(cube => cube.Any(atom => atom is not NullAtom && atom.Text.Contains(variable, StringComparison.Ordinal)));
    }
}
