using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Ingestion;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Ingestion;

public sealed class CustomerEventNormalizerTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly CustomerEventNormalizer _normalizer = new(new FakeTimeProvider(Now), new IngestionOptions());

    [Fact]
    public void A_purchase_is_stored_as_Purchased_with_amount_currency_and_order_id()
    {
        var recorded = _normalizer.Normalize(new OrderPurchased(Guid.NewGuid(), "c1", Now.AddHours(-1), "o-1", 12.5m, "EUR")).Event;

        Assert.Equal("Purchased", recorded.Type);
        Assert.Equal(12.5, recorded.Properties["amount"].AsNumber);
        Assert.Equal("EUR", recorded.Properties["currency"].AsString);
        Assert.Equal("o-1", recorded.Properties["orderId"].AsString);
    }

    [Fact]
    public void An_event_within_the_allowed_clock_skew_is_accepted_and_one_beyond_it_is_refused()
    {
        _normalizer.Normalize(new CustomerEvent(Guid.NewGuid(), "c1", "PageViewed", Now.AddMinutes(5)));

        var refused = Assert.Throws<InvalidCustomerEventException>(() =>
            _normalizer.Normalize(new CustomerEvent(Guid.NewGuid(), "c1", "PageViewed", Now.AddMinutes(5).AddTicks(1))));
        Assert.Contains("in the future", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "PageViewed", "customerId is required")]
    [InlineData("c1", "", "type must be a name")]
    [InlineData("c1", "page viewed", "type must be a name")]
    public void Events_without_customer_or_with_a_bad_type_are_refused_with_the_reason(string customer, string type, string reason)
    {
        var refused = Assert.Throws<InvalidCustomerEventException>(() =>
            _normalizer.Normalize(new CustomerEvent(Guid.NewGuid(), customer, type, Now)));
        Assert.Contains(reason, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nested_property_values_are_refused()
    {
        var refused = Assert.Throws<InvalidCustomerEventException>(() => _normalizer.Normalize(
            new CustomerEvent(Guid.NewGuid(), "c1", "PageViewed", Now, new Dictionary<string, object?> { ["tags"] = new[] { "a" } })));
        Assert.Contains("properties.tags", refused.Message, StringComparison.Ordinal);
    }
}
