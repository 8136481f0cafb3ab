using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Conflicts;

public static partial class ConflictAnalyzer
{
    /// <summary>
    /// The pairs of one exclusive group, on one thread. With shortcuts, two answers are shared (between the threads too,
    /// through <see cref="SharedAnswers"/>): a pair's verdict and an implication depend only on the two conditions (as
    /// <see cref="CanonicalText"/> prints them, which is also how streams are told apart), so pairs of equal conditions are
    /// solved once; and an implication that an example history of the premise refutes (the premise holds there, the
    /// conclusion does not, by the engine) is not solved at all: the solver could never have proven it, as it only proves
    /// what holds of every real history.
    /// </summary>
    private sealed class GroupAnalysis(
        Ruleset ruleset, SegmentGroup group, IReadOnlyList<SegmentRule> members, FormCache forms, IReadOnlySet<string> unsatisfiable, SharedAnswers? shared)
    {
        private readonly WitnessBuilder builder = new(ruleset, members);
        private readonly CubeSolver.SetUps? setUps = shared is null ? null : new();
        private readonly Dictionary<string, List<WitnessBuilder.History>> examples = new(StringComparer.Ordinal);

        public void AnalysePair(SegmentRule higher, SegmentRule lower, List<ConflictFinding> findings, CancellationToken cancellationToken)
        {
            findings.Add(Verdict(higher, lower, cancellationToken).Finding(group, higher, lower));
            if (!unsatisfiable.Contains(lower.Name) && Implies(lower, higher, cancellationToken))
            {
                findings.Add(Implies(higher, lower, cancellationToken)
                    ? new ConflictFinding(group.Name, FindingKind.Duplicate, Sorted(higher, lower),
                        $"{higher.Name} and {lower.Name} match exactly the same customers; {lower.Name} is never entered")
                    : new ConflictFinding(group.Name, FindingKind.Shadowed, Sorted(higher, lower),
                        $"{lower.Name} is shadowed by {higher.Name}: every customer who qualifies for {lower.Name} also qualifies for {higher.Name}, "
                        + $"which wins ({Precedence(higher, lower)}), so {lower.Name} is never entered"));
            }
        }

        private PairOutcome Verdict(SegmentRule higher, SegmentRule lower, CancellationToken cancellationToken)
        {
            if (shared is null)
            {
                return Solve(higher, lower, cancellationToken);
            }

            var key = shared.Key(higher, lower);
            if (shared.Outcome(key) is not { } outcome)
            {
                outcome = Solve(higher, lower, cancellationToken);
                shared.SetOutcome(key, outcome);
            }

            return outcome;
        }

        private PairOutcome Solve(SegmentRule higher, SegmentRule lower, CancellationToken cancellationToken)
        {
            var both = new[] { forms.Positive(higher), forms.Positive(lower) };
            var contradictions = new List<string>();
            var openRegions = new List<string>();
            var attempts = 0;
            foreach (var atoms in Combinations(both))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (atoms is null)
                {
                    return new PairOutcome(FindingKind.Unknown, $"the two conditions have more than {MaxCombinations} combinations of alternatives; not analysed");
                }

                var solver = CubeSolver.Solve(atoms, setUps);
                if (!solver.Satisfiable)
                {
                    contradictions.Add(solver.Contradiction!);
                    continue;
                }

                var region = Region(atoms);
                for (var attempt = 0; attempt < AttemptsPerCombination && attempts < AttemptsPerPair; attempt++, attempts++)
                {
                    if (solver.PickModel(new ModelPreferences(attempt)) is { } model && builder.Build(model, [higher, lower]) is { } witness)
                    {
                        return new PairOutcome(FindingKind.Conflict, region, witness);
                    }
                }

                openRegions.Add(region);
            }

            if (openRegions.Count == 0)
            {
                return new PairOutcome(FindingKind.Disjoint, Summarize(contradictions));
            }

            var approximations = both.SelectMany(f => f.Approximations).Distinct(StringComparer.Ordinal).ToList();
            var why = approximations.Count > 0
                ? "not analysed: " + string.Join("; ", approximations)
                : "the bounds allow an overlap but no history built from them was confirmed by the engine";
            return new PairOutcome(FindingKind.Unknown, $"{why} (possible overlap: {openRegions[0]})");
        }

        /// <summary>Every customer satisfying <paramref name="premise"/> satisfies <paramref name="conclusion"/>: premise and not conclusion is empty.</summary>
        private bool Implies(SegmentRule premise, SegmentRule conclusion, CancellationToken cancellationToken)
        {
            if (shared is null)
            {
                return Proves(premise, conclusion, cancellationToken);
            }

            var key = shared.Key(premise, conclusion);
            if (shared.Implication(key) is not { } implied)
            {
                implied = !ExamplesOf(premise, cancellationToken).Any(example => !builder.Holds(conclusion, example)) && Proves(premise, conclusion, cancellationToken);
                shared.SetImplication(key, implied);
            }

            return implied;
        }

        private bool Proves(SegmentRule premise, SegmentRule conclusion, CancellationToken cancellationToken) =>
            Empty([forms.Positive(premise), forms.Negative(conclusion)], setUps, cancellationToken) is not null;

        /// <summary>Histories in which the engine finds the segment's condition true: one from each alternative it can build one for.</summary>
        private List<WitnessBuilder.History> ExamplesOf(SegmentRule segment, CancellationToken cancellationToken)
        {
            if (!examples.TryGetValue(segment.Name, out var found))
            {
                found = [];
                foreach (var cube in forms.Positive(segment).Cubes.Take(AttemptsPerCombination))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var solver = CubeSolver.Solve([cube], setUps);
                    if (solver.Satisfiable && solver.PickModel(new ModelPreferences(0)) is { } model
                        && builder.HistoryOf(model) is { } history && builder.Holds(segment, history))
                    {
                        found.Add(history);
                    }
                }

                examples.Add(segment.Name, found);
            }

            return found;
        }
    }

    /// <summary>
    /// The answers the threads analysing one group share, by the numbers of the two conditions (an ordered pair). Each
    /// answer depends only on the two conditions, so when two threads find one at the same time, both find the same and
    /// either is kept. Kept in arrays of one entry per ordered pair of distinct conditions, which is at most about twice
    /// the pairs of the group (each of which has a finding of its own) and takes neither locks nor hashing.
    /// </summary>
    private sealed class SharedAnswers
    {
        // An implication's entry: 0 while not known.
        private const byte Refuted = 1;
        private const byte Proven = 2;

        private readonly Dictionary<string, int> conditionIds;
        private readonly int conditions;
        private readonly PairOutcome?[] outcomes;
        private readonly byte[] implications;

        public SharedAnswers(IReadOnlyList<SegmentRule> members)
        {
            conditionIds = NumberConditions(members, out conditions);
            outcomes = new PairOutcome?[checked(conditions * conditions)];
            implications = new byte[outcomes.Length];
        }

        public int Key(SegmentRule first, SegmentRule second) => (conditionIds[first.Name] * conditions) + conditionIds[second.Name];

        public PairOutcome? Outcome(int key) => Volatile.Read(ref outcomes[key]);

        public void SetOutcome(int key, PairOutcome outcome) => Volatile.Write(ref outcomes[key], outcome);

        public bool? Implication(int key) => Volatile.Read(ref implications[key]) switch
        {
            Proven => true,
            Refuted => false,
            _ => null,
        };

        public void SetImplication(int key, bool implied) => Volatile.Write(ref implications[key], implied ? Proven : Refuted);

        /// <summary>Each segment's condition by number, equal conditions (by <see cref="CanonicalText"/>) under one number.</summary>
        private static Dictionary<string, int> NumberConditions(IReadOnlyList<SegmentRule> members, out int conditions)
        {
            var numbers = new Dictionary<string, int>(StringComparer.Ordinal);
            var bySegment = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var segment in members)
            {
                var text = CanonicalText.Of(segment.Condition);
                if (!numbers.TryGetValue(text, out var id))
                {
                    id = numbers.Count;
                    numbers.Add(text, id);
                }

                bySegment.TryAdd(segment.Name, id);
            }

            conditions = numbers.Count;
            return bySegment;
        }
    }

    /// <summary>
    /// A pair's verdict without the names: for a conflict, <see cref="Text"/> is the overlap in words; for a disjoint pair,
    /// why; for an unknown one, the whole description.
    /// </summary>
    private sealed record PairOutcome(FindingKind Kind, string Text, ConflictWitness? Witness = null)
    {
        public ConflictFinding Finding(SegmentGroup group, SegmentRule higher, SegmentRule lower)
        {
            var segments = Sorted(higher, lower);
            switch (Kind)
            {
                case FindingKind.Conflict:
                    var description = group.OnConflict == ConflictPolicy.Reject
                        ? $"customers with {Text}; group {group.Name} rejects conflicts"
                        : $"customers with {Text}; priority: {higher.Name} wins ({Precedence(higher, lower)}), {lower.Name} is blocked";
                    return new ConflictFinding(group.Name, FindingKind.Conflict, segments, description, Witness,
                        group.OnConflict == ConflictPolicy.Priority ? higher.Name : null);
                case FindingKind.Disjoint:
                    return new ConflictFinding(group.Name, FindingKind.Disjoint, segments, $"no customer satisfies both: {Text}");
                default:
                    return new ConflictFinding(group.Name, Kind, segments, Text);
            }
        }
    }
}
