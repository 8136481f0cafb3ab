using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Membership;

/// <summary>Purchases and page views of many customers, each customer's in increasing occurrence time.</summary>
public static class ChurnHistory
{
    public static IReadOnlyList<ICustomerLifecycleEvent> Generate(int customers, int eventsPerCustomer, DateTimeOffset start, int seed)
    {
        var random = new Random(seed);
        var ids = Enumerable.Range(0, customers).Select(i => $"churn-{seed}-{i:D3}").ToArray();
        var events = new List<ICustomerLifecycleEvent>();
        for (var step = 0; step < eventsPerCustomer; step++)
        {
            foreach (var customer in ids)
            {
                var at = start + TimeSpan.FromMinutes(step * 20 + random.Next(0, 15));
                events.Add(random.NextDouble() < 0.45
                    ? new OrderPurchased(Guid.NewGuid(), customer, at, $"{customer}-o{step}", random.Next(5, 300), "EUR")
                    : new CustomerEvent(Guid.NewGuid(), customer, "PageViewed", at));
            }
        }
        return events;
    }

    public static Task Publish(Infrastructure.UpstreamPublisher upstream, ICustomerLifecycleEvent message) => message switch
    {
        OrderPurchased m => upstream.Publish(m),
        CustomerEvent m => upstream.Publish(m),
        _ => throw new ArgumentOutOfRangeException(nameof(message)),
    };
}
