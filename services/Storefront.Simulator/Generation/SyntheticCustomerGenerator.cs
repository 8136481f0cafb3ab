using SegmentationEvents.Contracts;

namespace Storefront.Simulator.Generation;

/// <summary>
/// Deterministic synthetic storefront traffic: pure, no I/O, no clock. Given the same
/// <see cref="SimulationSettings"/> it yields the same events with the same ids and times.
/// </summary>
/// <remarks>
/// Every customer signs up (<see cref="CustomerSignedUp"/>) within the first 60% of the span,
/// sets a full profile a few minutes later (<see cref="ProfileUpdated"/> with country, plan,
/// email_opt_in), and then produces activity spread over the rest of the span: page views and
/// abandoned carts (<see cref="CustomerEvent"/>), purchases (<see cref="OrderPurchased"/>,
/// log-normally distributed EUR amounts), profile changes and occasional unsubscribes. How
/// active a customer is follows a heavy-tailed distribution, with some nearly dormant ones.
/// Events come out in order of occurrence across all customers, so customers interleave and
/// each customer's occurrence times strictly increase. EventId is a deterministic function
/// of the seed and the event's position in the output.
/// </remarks>
public sealed class SyntheticCustomerGenerator
{
    public const string PageViewed = "PageViewed";
    public const string CartAbandoned = "CartAbandoned";
    public const string EmailChannel = "email";
    public const string Currency = "EUR";

    public static IReadOnlyList<string> Plans { get; } = ["free", "pro", "team"];

    /// <summary>Profile attribute names set by <see cref="ProfileUpdated"/>.</summary>
    public static class Attributes
    {
        public const string Country = "country";
        public const string Plan = "plan";
        public const string EmailOptIn = "email_opt_in";
    }

    private static readonly (string Code, int Weight)[] Countries =
        [("DE", 25), ("FR", 15), ("NL", 10), ("ES", 10), ("IT", 10), ("US", 10), ("AT", 5), ("BE", 5), ("PL", 5), ("SE", 5)];
    private static readonly (string Plan, int Weight)[] PlanWeights = [("free", 70), ("pro", 22), ("team", 8)];
    private static readonly string[] FirstNames = ["anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ines", "jonas", "lea", "marc", "nora", "oskar", "paula", "sven"];
    private static readonly string[] LastNames = ["meyer", "dubois", "jansen", "garcia", "rossi", "smith", "huber", "peeters", "nowak", "larsson"];
    private static readonly string[] Pages = ["/", "/products", "/products/{0}", "/cart", "/pricing", "/blog/{0}"];

    public SyntheticCustomerGenerator(SimulationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Settings = settings;
    }

    public SimulationSettings Settings { get; }

    /// <summary>The events in order of occurrence. Lazily generated; enumerate again to restart.</summary>
    public IEnumerable<ICustomerLifecycleEvent> Generate()
    {
        var timelines = CreateTimelines();
        var queue = new PriorityQueue<CustomerTimeline, (long Ticks, int Index)>(timelines.Length);
        foreach (var timeline in timelines)
        {
            queue.Enqueue(timeline, (timeline.NextAt.UtcTicks, timeline.Index));
        }

        long sequence = 0;
        while (sequence < Settings.TotalEvents && queue.TryDequeue(out var timeline, out _))
        {
            yield return timeline.Emit(this, sequence++);
            if (timeline.Advance())
            {
                queue.Enqueue(timeline, (timeline.NextAt.UtcTicks, timeline.Index));
            }
        }
    }

    private CustomerTimeline[] CreateTimelines()
    {
        var master = new Random(Settings.Seed);
        var timelines = new CustomerTimeline[Settings.Customers];
        for (var i = 0; i < timelines.Length; i++)
        {
            timelines[i] = new CustomerTimeline(i, DeterministicIds.CustomerId(Settings.Seed, i), new Random(master.Next()), Settings);
        }

        AllocateActivity(timelines, Math.Max(0, Settings.TotalEvents - (2 * Settings.Customers)));
        return timelines;
    }

    /// <summary>
    /// Shares the activity events among customers in proportion to engagement × active time
    /// (largest-remainder rounding), so the total is exact and deterministic.
    /// </summary>
    private static void AllocateActivity(CustomerTimeline[] timelines, long total)
    {
        var totalWeight = timelines.Sum(t => t.Weight);
        var remainders = new (double Fraction, int Index)[timelines.Length];
        long allocated = 0;
        for (var i = 0; i < timelines.Length; i++)
        {
            var ideal = totalWeight > 0 ? total * timelines[i].Weight / totalWeight : (double)total / timelines.Length;
            var whole = (long)Math.Floor(ideal);
            timelines[i].ActivityCount = whole;
            allocated += whole;
            remainders[i] = (ideal - whole, i);
        }

        var leftover = total - allocated;
        foreach (var (_, index) in remainders.OrderByDescending(r => r.Fraction).ThenBy(r => r.Index))
        {
            if (leftover-- <= 0) break;
            timelines[index].ActivityCount++;
        }
    }

    private static T Pick<T>(Random rng, (T Value, int Weight)[] weighted)
    {
        var roll = rng.Next(weighted.Sum(w => w.Weight));
        foreach (var (value, weight) in weighted)
        {
            if (roll < weight) return value;
            roll -= weight;
        }

        return weighted[^1].Value;
    }

    private static double StandardNormal(Random rng)
    {
        // Box-Muller; 1 - NextDouble() is in (0, 1], so the logarithm is finite.
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Order amounts: log-normal, median about 40 EUR, long tail, in cents.</summary>
    private static decimal OrderAmount(Random rng)
    {
        var amount = Math.Exp(Math.Log(40.0) + (0.9 * StandardNormal(rng)));
        return Math.Round((decimal)Math.Clamp(amount, 1.0, 5000.0), 2);
    }

    private static DateTimeOffset TruncateToMilliseconds(DateTimeOffset value) =>
        new(value.UtcTicks - (value.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

    private enum Phase { SignUp, Profile, Activity, Done }

    /// <summary>One customer's state and the time of its next event.</summary>
    private sealed class CustomerTimeline
    {
        private readonly Random rng;
        private readonly DateTimeOffset activityStart;
        private readonly DateTimeOffset end;
        private Phase phase = Phase.SignUp;
        private long activityEmitted;
        private double lastFraction;
        private string country = "DE";
        private string plan = "free";
        private bool emailOptIn;
        private bool unsubscribed;

        public CustomerTimeline(int index, string customerId, Random rng, SimulationSettings settings)
        {
            Index = index;
            CustomerId = customerId;
            this.rng = rng;
            end = settings.End;
            NextAt = TruncateToMilliseconds(settings.Start + (settings.Span * (0.6 * rng.NextDouble())));

            // The profile follows the sign-up after 1–30 minutes (less when the span is tiny).
            var delay = TimeSpan.FromMinutes(1 + (29 * rng.NextDouble()));
            var room = (end - NextAt) / 2;
            activityStart = NextAt + (delay < room ? delay : room);

            // Heavy-tailed engagement; about one customer in seven is nearly dormant.
            var engagement = Math.Exp(StandardNormal(rng)) * (rng.NextDouble() < 0.15 ? 0.1 : 1.0);
            Weight = engagement * Math.Max(0, (end - activityStart).TotalDays);
        }

        public int Index { get; }
        public string CustomerId { get; }
        public double Weight { get; }
        public long ActivityCount { get; set; }
        public DateTimeOffset NextAt { get; private set; }

        public ICustomerLifecycleEvent Emit(SyntheticCustomerGenerator generator, long sequence)
        {
            var seed = generator.Settings.Seed;
            var id = DeterministicIds.EventId(seed, sequence);
            return phase switch
            {
                Phase.SignUp => SignUp(id),
                Phase.Profile => InitialProfile(id),
                Phase.Activity => Activity(id, seed, sequence),
                _ => throw new InvalidOperationException("timeline already finished"),
            };
        }

        /// <summary>Moves to the next event; false when this customer has no more.</summary>
        public bool Advance()
        {
            switch (phase)
            {
                case Phase.SignUp:
                    phase = Phase.Profile;
                    SetNext(activityStart);
                    return true;
                case Phase.Profile or Phase.Activity when activityEmitted < ActivityCount:
                    phase = Phase.Activity;
                    // Next of the remaining k sorted uniform fractions in (last, 1): the minimum
                    // of k uniforms is last + (1 - last)(1 - V^(1/k)).
                    var remaining = ActivityCount - activityEmitted;
                    lastFraction = 1 - ((1 - lastFraction) * Math.Pow(rng.NextDouble(), 1.0 / remaining));
                    SetNext(activityStart + ((end - activityStart) * lastFraction));
                    activityEmitted++;
                    return true;
                default:
                    phase = Phase.Done;
                    return false;
            }
        }

        /// <summary>Occurrence times strictly increase per customer (millisecond resolution).</summary>
        private void SetNext(DateTimeOffset candidate)
        {
            var next = TruncateToMilliseconds(candidate);
            NextAt = next > NextAt ? next : NextAt.AddMilliseconds(1);
        }

        private CustomerSignedUp SignUp(Guid id)
        {
            country = Pick(rng, Countries);
            var email = $"{FirstNames[rng.Next(FirstNames.Length)]}.{LastNames[rng.Next(LastNames.Length)]}.{Index}@example.com";
            return new CustomerSignedUp(id, CustomerId, NextAt, email, country);
        }

        private ProfileUpdated InitialProfile(Guid id)
        {
            plan = Pick(rng, PlanWeights);
            emailOptIn = rng.NextDouble() < 0.7;
            return new ProfileUpdated(id, CustomerId, NextAt, new Dictionary<string, object?>
            {
                [Attributes.Country] = country,
                [Attributes.Plan] = plan,
                [Attributes.EmailOptIn] = emailOptIn,
            });
        }

        private ICustomerLifecycleEvent Activity(Guid id, int seed, long sequence)
        {
            var roll = rng.NextDouble();
            return roll switch
            {
                < 0.45 => PageView(id),
                < 0.52 => AbandonedCart(id),
                < 0.80 => new OrderPurchased(id, CustomerId, NextAt, DeterministicIds.OrderId(seed, sequence), OrderAmount(rng), Currency),
                < 0.97 => ProfileChange(id),
                _ when !unsubscribed => Unsubscribe(id),
                _ => PageView(id),
            };
        }

        private CustomerEvent PageView(Guid id)
        {
            var path = string.Format(System.Globalization.CultureInfo.InvariantCulture, Pages[rng.Next(Pages.Length)], rng.Next(1, 500));
            return new CustomerEvent(id, CustomerId, PageViewed, NextAt, new Dictionary<string, object?>
            {
                ["path"] = path,
                ["device"] = rng.NextDouble() < 0.6 ? "mobile" : "desktop",
            });
        }

        private CustomerEvent AbandonedCart(Guid id) =>
            new(id, CustomerId, CartAbandoned, NextAt, new Dictionary<string, object?>
            {
                ["items"] = rng.Next(1, 6),
                ["value"] = OrderAmount(rng),
            });

        /// <summary>A partial update: only the attributes that changed.</summary>
        private ProfileUpdated ProfileChange(Guid id)
        {
            var attributes = new Dictionary<string, object?>();
            var roll = rng.NextDouble();
            if (roll < 0.45)
            {
                // Upgrades are more common than downgrades.
                plan = plan switch
                {
                    "free" => rng.NextDouble() < 0.8 ? "pro" : "team",
                    "pro" => rng.NextDouble() < 0.6 ? "team" : "free",
                    _ => "pro",
                };
                attributes[Attributes.Plan] = plan;
            }
            else if (roll < 0.85)
            {
                // Opting back in after an unsubscribe counts as subscribing again.
                emailOptIn = !emailOptIn;
                if (emailOptIn) unsubscribed = false;
                attributes[Attributes.EmailOptIn] = emailOptIn;
            }
            else
            {
                country = Pick(rng, Countries);
                attributes[Attributes.Country] = country;
            }

            return new ProfileUpdated(id, CustomerId, NextAt, attributes);
        }

        private CustomerUnsubscribed Unsubscribe(Guid id)
        {
            unsubscribed = true;
            emailOptIn = false;
            return new CustomerUnsubscribed(id, CustomerId, NextAt, EmailChannel);
        }
    }
}
