namespace Storefront.Simulator.Generation;

/// <summary>What <see cref="SyntheticCustomerGenerator"/> produces.</summary>
/// <param name="Customers">Number of distinct synthetic customers.</param>
/// <param name="TotalEvents">Exactly this many events are generated (fewer only if it is below two per customer).</param>
/// <param name="Seed">Same seed and settings give the same events, ids and times.</param>
/// <param name="Start">Simulated instant of the earliest possible sign-up.</param>
/// <param name="Span">Simulated time covered: every event occurs in [Start, Start + Span].</param>
public sealed record SimulationSettings(int Customers, int TotalEvents, int Seed, DateTimeOffset Start, TimeSpan Span)
{
    public DateTimeOffset End => Start + Span;

    /// <summary>Throws when the settings cannot describe a simulation.</summary>
    public void Validate()
    {
        if (Customers <= 0) throw new ArgumentOutOfRangeException(nameof(Customers), Customers, "must be positive");
        if (TotalEvents < 0) throw new ArgumentOutOfRangeException(nameof(TotalEvents), TotalEvents, "must not be negative");
        if (Span <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Span), Span, "must be positive");
    }
}
