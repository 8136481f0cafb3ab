using MassTransit;
using SegmentationEvents.ServiceDefaults;

namespace Storefront.Simulator.Publishing;

public static class RabbitMqBus
{
    /// <summary>A publish-only MassTransit bus on the given broker.</summary>
    public static IBusControl Create(RabbitMqAddress address) =>
        Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(address, "storefront-simulator"));
}
